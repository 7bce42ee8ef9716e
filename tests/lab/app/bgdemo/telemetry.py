"""OpenTelemetry setup: a real SDK tracer provider exporting OTLP/HTTP, or nothing at all
when tracing is switched off (the fault a blind-spot gate must catch)."""
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


def setup_tracing(settings, environ):
    """Returns a tracer. With tracing off the API's no-op tracer is returned and incoming
    trace context is ignored, exactly like a service whose tracing was never configured."""
    if not settings.tracing:
        return trace.NoOpTracer()
    resource = Resource.create(
        {
            "service.name": settings.service_name,
            "service.version": settings.version,
            "deployment.environment.name": settings.environment,
            "deployment.color": settings.color,
        }
    )
    provider = TracerProvider(resource=resource)
    # Without an endpoint the spans are still made (and traceparent still honoured) but not
    # exported: the SDK's default localhost endpoint would only fill the log with errors.
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # Zipkin has no OTLP receiver: a service traced into Zipkin exports Zipkin's own JSON (the
    # SDK's exporter reads OTEL_EXPORTER_ZIPKIN_ENDPOINT itself), beside OTLP when both are set.
    if environ.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT"):
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        provider.add_span_processor(BatchSpanProcessor(ZipkinExporter()))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(TraceContextTextMapPropagator())
    return provider.get_tracer("bgdemo", settings.version)
