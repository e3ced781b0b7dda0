"""Pure domain types and rules: IDs, divisions, the camera archive, networks. Imports nothing of ours."""
