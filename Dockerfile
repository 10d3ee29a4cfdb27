# Sluice — container image.
#
#   docker build -t sluice .
#   docker run -p 8080:8080 -v sluice-data:/data sluice
#
# Stage 1 builds a static, pure-Go binary (the embedded SQLite driver needs no cgo).
# Stage 2 is an empty image holding only that binary, CA certificates (for TLS to
# warehouses, ad platforms and SMTP) and the time-zone database (for schedules in a
# time zone).

FROM golang:1.26-bookworm AS build

WORKDIR /src

# Dependencies first, so this layer stays cached while only the code changes.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# Generated templ code (*_templ.go) is committed, so a plain go build is enough.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sluice .

# The final image has no shell: prepare the data directory here, owned by the
# unprivileged user the container runs as. Make sure the files copied below exist.
RUN mkdir -p /out/data \
 && chown 65532:65532 /out/data \
 && test -f /etc/ssl/certs/ca-certificates.crt \
 && test -f /usr/share/zoneinfo/UTC

FROM scratch

COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/sluice /sluice
COPY --from=build --chown=65532:65532 /out/data /data

USER 65532:65532

ENV SLUICE_DATA_DIR=/data \
    SLUICE_LISTEN=:8080

EXPOSE 8080
VOLUME /data

ENTRYPOINT ["/sluice"]
CMD ["serve"]
