"""Demo service for the tracegate.bluegreen lab: one business route with a downstream call,
health and version endpoints, RED metrics and OpenTelemetry traces, with fault knobs."""
