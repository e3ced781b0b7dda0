"""The catalog service: the camera archive, inventory import, governance and the resource list export."""
