# zdsync: a static, CGO-free binary (SQLite is pure Go) on a minimal,
# non-root runtime image. `zdsync serve` is the default command.
#
# Both base images are pinned by digest (the tag each digest was taken from
# is in the comment above it), so a rebuild of a commit uses the same images;
# move a digest on purpose, e.g. with `crane digest golang:1.26`, when a
# newer Go release fixes the standard library.

# golang:1.26.9 (the Go of this image is the Go of the binary: its standard
# library fixes are the binary's)
FROM golang:1.26.9@sha256:f1f0bcc2c524a3ced375fcb4d1ecb7aa371aa7070e112599aaca45cc02d0101b AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/zdsync . \
 && mkdir -p /out/data

# gcr.io/distroless/static-debian12:nonroot
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/zdsync /zdsync
# The default SQLite database lives in the working directory; mount a volume
# here (or set DATABASE_URL to Postgres) so it survives restarts.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/zdsync"]
CMD ["serve"]
