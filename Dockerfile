# The kf-run image: the GitHub Action's container (root, as Docker actions
# require) and a GitLab CI job image (it has /bin/sh; use entrypoint: [""]).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kf-run ./cmd/runner

FROM alpine:3.20
RUN apk add --no-cache ca-certificates git
COPY --from=build /out/kf-run /usr/local/bin/kf-run
COPY action/entrypoint.sh /usr/local/bin/kf-run-action
# exec form, so SIGINT/SIGTERM from the runner reach kf-run (it terminates the runs).
ENTRYPOINT ["/usr/local/bin/kf-run-action"]
