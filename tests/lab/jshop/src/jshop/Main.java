// jshop is the lab's Java service: the kind of service the collection's generic role does not
// install (it needs a JVM on the host), deployed by a user's deploy hook (deploy_hook.yml),
// traced with the OpenTelemetry Java SDK.
//
// It reads what its deploy hook gives it, BLUEGREEN_COLOR (blue or green), BLUEGREEN_PORT and
// BLUEGREEN_ENVIRONMENT, and the OTEL_* variables the tracing_agent role writes; without
// OTEL_EXPORTER_OTLP_ENDPOINT nothing is exported. Routes: GET /api/quote, GET /healthz,
// GET /version ({service, version, color, environment}). The version and the built-in error
// rate come from jshop-release.jar, made by build.sh for each release: configuration cannot
// claim another version, and a faulty release stays faulty wherever it runs.
package jshop;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

public final class Main {
    private static final TextMapGetter<HttpExchange> HEADERS = new TextMapGetter<>() {
        @Override
        public String get(HttpExchange exchange, String key) {
            return exchange == null ? null : exchange.getRequestHeaders().getFirst(key);
        }
    };

    private final String service;
    private final String color;
    private final String environment;
    private final String version;
    private final double errorRate;
    private final String host;
    private final Tracer tracer;

    private Main(String service, String color, String environment, String version, double errorRate, Tracer tracer)
            throws IOException {
        this.service = service;
        this.color = color;
        this.environment = environment;
        this.version = version;
        this.errorRate = errorRate;
        this.host = InetAddress.getLocalHost().getHostName();
        this.tracer = tracer;
    }

    public static void main(String[] args) throws IOException {
        String color = System.getenv().getOrDefault("BLUEGREEN_COLOR", "");
        if (!color.equals("blue") && !color.equals("green")) {
            fail("BLUEGREEN_COLOR=\"" + color + "\" must be blue or green");
        }
        String portText = System.getenv().getOrDefault("BLUEGREEN_PORT", "8080");
        int port = 0;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65535) {
            fail("BLUEGREEN_PORT=\"" + portText + "\" is not a port");
        }
        Properties release = new Properties();
        try (InputStream in = Main.class.getResourceAsStream("/jshop/release.properties")) {
            if (in == null) {
                fail("jshop-release.jar is missing from the class path");
            }
            release.load(in);
        }
        double errorRate = Double.parseDouble(release.getProperty("error_rate", "0"));
        String service = System.getenv().getOrDefault("BLUEGREEN_SERVICE", "jshop");
        String environment = System.getenv().getOrDefault("BLUEGREEN_ENVIRONMENT", "lab");
        String version = release.getProperty("version");

        OpenTelemetry telemetry = OpenTelemetry.noop();
        if (System.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != null) {
            // Traces only; the environment's settings override these defaults, and the release's
            // version is set last, so that configuration cannot claim another one.
            Map<String, String> defaults = Map.of("otel.metrics.exporter", "none", "otel.logs.exporter", "none",
                    "otel.exporter.otlp.protocol", "http/protobuf", "otel.service.name", service,
                    "otel.propagators", "tracecontext");
            OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
                    .addPropertiesSupplier(() -> defaults)
                    .addResourceCustomizer((resource, config) -> resource.toBuilder()
                            .put("service.version", version).put("deployment.color", color).build())
                    .setResultAsGlobal()
                    .build()
                    .getOpenTelemetrySdk();
            Runtime.getRuntime().addShutdownHook(new Thread(sdk::close));
            telemetry = sdk;
        }
        Main app = new Main(service, color, environment, version, errorRate, telemetry.getTracer("jshop", version));
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 256);
        server.setExecutor(Executors.newFixedThreadPool(16));
        server.createContext("/api/quote", exchange -> app.handle(exchange, "/api/quote", true));
        server.createContext("/healthz", exchange -> app.handle(exchange, "/healthz", false));
        server.createContext("/version", exchange -> app.handle(exchange, "/version", false));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(1)));
        server.start();
        System.out.println("jshop " + version + " (" + color + ") listening on :" + port);
    }

    private static void fail(String message) {
        System.err.println("jshop: " + message);
        System.exit(2);
    }

    private void handle(HttpExchange exchange, String route, boolean business) throws IOException {
        String method = exchange.getRequestMethod();
        Context parent = W3CTraceContextPropagator.getInstance().extract(Context.root(), exchange, HEADERS);
        Span span = tracer.spanBuilder(method + " " + route).setParent(parent).setSpanKind(SpanKind.SERVER)
                .setAttribute("http.request.method", method)
                .setAttribute("url.path", exchange.getRequestURI().getPath())
                .setAttribute("http.route", route)
                .startSpan();
        try {
            int status = 200;
            String body;
            if (!method.equals("GET")) {
                status = 405;
                body = "{\"error\": \"GET only\"}";
            } else if (business && ThreadLocalRandom.current().nextDouble() < errorRate) {
                status = 500;
                body = "{\"error\": \"injected fault\", \"color\": \"" + color + "\"}";
            } else if (route.equals("/version")) {
                body = "{\"service\": \"" + service + "\", \"version\": \"" + version + "\", \"color\": \"" + color
                        + "\", \"environment\": \"" + environment + "\"}";
            } else if (route.equals("/healthz")) {
                body = "{\"status\": \"ok\"}";
            } else {
                body = "{\"quote\": " + (100 + ThreadLocalRandom.current().nextInt(900)) + ", \"color\": \"" + color + "\"}";
            }
            span.setAttribute(AttributeKey.longKey("http.response.status_code"), status);
            if (status >= 500) {
                span.setStatus(StatusCode.ERROR, "HTTP " + status);
            }
            byte[] bytes = (body + "\n").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().put("Content-Type", List.of("application/json"));
            exchange.getResponseHeaders().put("X-App-Color", List.of(color));
            exchange.getResponseHeaders().put("X-App-Version", List.of(version));
            exchange.getResponseHeaders().put("X-App-Host", List.of(host));
            if (span.getSpanContext().isValid()) {
                exchange.getResponseHeaders().put("X-Trace-Id", List.of(span.getSpanContext().getTraceId()));
            }
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        } finally {
            span.end();
            exchange.close();
        }
    }
}
