# zdsync: a static, CGO-free binary (SQLite is pure Go) on a minimal,
# non-root runtime image. `zdsync serve` is the default command.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/zdsync . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zdsync /zdsync
# The default SQLite database lives in the working directory; mount a volume
# here (or set DATABASE_URL to Postgres) so it survives restarts.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/zdsync"]
CMD ["serve"]
