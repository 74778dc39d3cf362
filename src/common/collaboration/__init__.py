"""The collaboration model the hub and its clients share: text operations, fractional
positions, operations, the document, a client-side replica and undo, and their protobuf
converters (generated messages only: no grpc, no server)."""
