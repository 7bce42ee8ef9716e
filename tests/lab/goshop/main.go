// Command goshop is the lab's Go service: the second kind of service the collection cuts over,
// a static binary in a tarball, traced with the OpenTelemetry Go SDK.
//
// It reads what the app_env role gives every service: BLUEGREEN_SERVICE, BLUEGREEN_COLOR (blue
// or green), BLUEGREEN_ENVIRONMENT and BLUEGREEN_PORT. The SDK reads its own settings from the
// OTEL_* variables the tracing_agent role writes (endpoint, protocol, resource attributes with
// deployment.color, sampler, batch delay); without OTEL_EXPORTER_OTLP_ENDPOINT nothing is
// exported, as for a service whose tracing was never configured.
//
// Routes: GET /api/quote (the business route), GET /healthz, GET /version ({service, version,
// color, environment}). The version and the release's built-in defects are set when the
// binary is built (build.sh, -ldflags -X), never by configuration, so that a host cannot claim
// a version it does not run and a faulty release stays faulty wherever it is deployed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Set by build.sh with -ldflags "-X main.name=value".
var (
	version        = "0.0.0"
	errorRate      = "0"
	addedLatencyMs = "0"
)

type settings struct {
	service, color, environment, port string
	errorRate                         float64
	addedLatency                      time.Duration
}

func readSettings() (settings, error) {
	s := settings{
		service:     envOr("BLUEGREEN_SERVICE", "goshop"),
		color:       os.Getenv("BLUEGREEN_COLOR"),
		environment: envOr("BLUEGREEN_ENVIRONMENT", "lab"),
		port:        envOr("BLUEGREEN_PORT", "8080"),
	}
	if s.color != "blue" && s.color != "green" {
		return s, fmt.Errorf("BLUEGREEN_COLOR=%q must be blue or green", s.color)
	}
	if _, err := strconv.ParseUint(s.port, 10, 16); err != nil {
		return s, fmt.Errorf("BLUEGREEN_PORT=%q is not a port", s.port)
	}
	rate, err := strconv.ParseFloat(errorRate, 64)
	if err != nil || rate < 0 || rate > 1 {
		return s, fmt.Errorf("built-in error rate %q is not a fraction", errorRate)
	}
	latency, err := strconv.ParseFloat(addedLatencyMs, 64)
	if err != nil || latency < 0 || latency > 60000 {
		return s, fmt.Errorf("built-in added latency %q is not a number of milliseconds", addedLatencyMs)
	}
	s.errorRate, s.addedLatency = rate, time.Duration(latency*float64(time.Millisecond))
	return s, nil
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

// setupTracing returns the tracer and a function that flushes the spans on shutdown.
func setupTracing(ctx context.Context, s settings) (trace.Tracer, func(context.Context) error, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop.NewTracerProvider().Tracer("goshop"), func(context.Context) error { return nil }, nil
	}
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		os.Setenv("OTEL_SERVICE_NAME", s.service)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	// The environment's attributes first (deployment.color from tracing_agent), then the
	// version the binary was built as: configuration cannot claim another.
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithAttributes(
		attribute.String("service.version", version),
		attribute.String("deployment.environment.name", s.environment),
		attribute.String("deployment.color", s.color)))
	if err != nil {
		return nil, nil, err
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return provider.Tracer("goshop", trace.WithInstrumentationVersion(version)), provider.Shutdown, nil
}

type app struct {
	s      settings
	tracer trace.Tracer
	host   string
}

func (a *app) handle(route string, business bool, answer func() (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := a.tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
				attribute.String("http.route", route)))
		defer span.End()
		_ = ctx
		status, body := http.StatusOK, any(nil)
		if r.Method != http.MethodGet {
			status, body = http.StatusMethodNotAllowed, map[string]string{"error": "GET only"}
		} else if business && a.s.addedLatency > 0 {
			time.Sleep(a.s.addedLatency)
		}
		if body == nil {
			if business && rand.Float64() < a.s.errorRate {
				status, body = http.StatusInternalServerError, map[string]string{"error": "injected fault", "color": a.s.color}
			} else {
				status, body = answer()
			}
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		header := w.Header()
		header.Set("Content-Type", "application/json")
		header.Set("X-App-Color", a.s.color)
		header.Set("X-App-Version", version)
		header.Set("X-App-Host", a.host)
		if sc := span.SpanContext(); sc.IsValid() {
			header.Set("X-Trace-Id", sc.TraceID().String())
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}

func main() {
	s, err := readSettings()
	if err != nil {
		log.Fatalf("goshop: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	tracer, flush, err := setupTracing(ctx, s)
	if err != nil {
		log.Fatalf("goshop: tracing: %v", err)
	}
	host, _ := os.Hostname()
	a := &app{s: s, tracer: tracer, host: host}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/quote", a.handle("/api/quote", true, func() (int, any) {
		return http.StatusOK, map[string]string{"quote": "Simple things should be simple.", "color": s.color, "version": version}
	}))
	mux.HandleFunc("/healthz", a.handle("/healthz", false, func() (int, any) { return http.StatusOK, map[string]string{"status": "ok"} }))
	mux.HandleFunc("/version", a.handle("/version", false, func() (int, any) {
		return http.StatusOK, map[string]string{"service": s.service, "version": version, "color": s.color, "environment": s.environment}
	}))
	server := &http.Server{Addr: ":" + s.port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
		_ = flush(shutdown)
	}()
	log.Printf("goshop %s (%s) listening on :%s", version, s.color, s.port)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatalf("goshop: %v", err)
	}
}
