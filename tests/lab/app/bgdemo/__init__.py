"""Demo service for the tracegate.bluegreen lab: two business routes (one with a downstream call),
health and version endpoints, RED metrics and OpenTelemetry traces, with fault knobs."""
