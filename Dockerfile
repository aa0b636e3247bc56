# zdsync: a static, CGO-free binary (SQLite is pure Go) on a minimal,
# non-root runtime image. `zdsync serve` is the default command.
#
# Both base images are pinned by digest (the tag each digest was taken from
# is in the comment above it), so a rebuild of a commit uses the same images;
# move a digest on purpose, e.g. with `crane digest golang:1.26`.

# golang:1.26 (Go 1.26.8)
FROM golang:1.26@sha256:3c3e25a4da13fd0478eed2df1eb35a0e667094a7124d3993a6a1d30f71c17e79 AS build
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
