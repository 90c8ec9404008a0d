# syntax=docker/dockerfile:1
# Builds pullcache's container image with Docker or BuildKit:
#   docker build --build-arg VERSION=v0.1.0 -t pullcache:v0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 ...
# It declares the same runtime contract as the image that scripts/release.sh
# assembles without a Docker engine (tools/imagebuild): user 65532, the
# entrypoint, ports, volume and health check. The base differs: distroless
# here, a minimal layer there.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/pullcache ./cmd/pullcache
# The final stage has no shell, so the data directory is made here.
RUN mkdir -p /out/data && chmod 0750 /out/data

# distroless/static holds CA certificates, /etc/passwd with the nonroot
# user 65532 and /tmp, and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="pullcache" \
      org.opencontainers.image.description="A pull-through cache for container registries" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/pullcache/pullcache" \
      org.opencontainers.image.url="https://github.com/pullcache/pullcache"
COPY --from=build /out/pullcache /usr/bin/pullcache
COPY deploy/image/config.yaml /etc/pullcache/config.yaml
COPY --from=build --chown=65532:65532 /out/data /var/lib/pullcache
USER 65532:65532
WORKDIR /var/lib/pullcache
EXPOSE 5000 9090
VOLUME ["/var/lib/pullcache"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/bin/pullcache", "healthcheck", "--config", "/etc/pullcache/config.yaml"]
ENTRYPOINT ["/usr/bin/pullcache", "serve", "--config", "/etc/pullcache/config.yaml"]
