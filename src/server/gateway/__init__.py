"""The browser gateway: gRPC-Web, WebSocket and SSE on the hub's HTTP port, forwarding raw bytes."""
