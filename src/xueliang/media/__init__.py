"""Media node: RTP receivers, RTSP pullers, one hub per stream, FLV/HLS/snapshot outputs, transcoding (issue 4)."""
