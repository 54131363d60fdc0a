# The kf-run release image, ghcr.io/kf-run/kf-run:<version> (also :v<major>
# and :latest), for GitLab CI jobs and `docker run`. Built by goreleaser
# (dockers_v2, buildx, linux/amd64 and linux/arm64) from the binaries of the
# release: the build context holds linux/<arch>/kf-run, nothing is compiled
# here, so the image runs the same bytes as the release archives.
#
# Why a Go base image: kf-run builds `ko://` images with the Go toolchain on
# PATH, and CI jobs need a shell (GitLab pipes the job script into sh), git
# and CA certificates; golang's Debian image has all of them.
#
# GitLab: use the image with `entrypoint: [""]` (the job script then runs in
# sh, not as arguments to kf-run). The job runs as this image's USER.
# GitHub `container:` jobs: add `options: --user 0`, because the runner's
# workspace and actions expect root.
FROM golang:1.26-trixie

# The golang images set GOTOOLCHAIN=local; auto lets the user's go.mod (its
# go and toolchain lines) fetch the Go it asks for instead of failing with
# "go.mod requires go >= X". The image's Go is only the floor.
ENV GOTOOLCHAIN=auto

# The checkout is usually owned by another uid than the job's (the runner
# clones as root, the job runs as kf-run, or the reverse), and git then
# refuses it as "dubious ownership". go build stamps VCS data by default
# (-buildvcs=auto) and fails with "error obtaining VCS status" when git
# refuses, so every directory is trusted for every user (system config). A
# job that has no usable .git at all can set GOFLAGS=-buildvcs=false.
RUN git config --system --add safe.directory '*' \
	&& useradd --create-home --uid 1000 --user-group --shell /bin/sh kf-run

ARG TARGETPLATFORM
COPY --chmod=0755 $TARGETPLATFORM/kf-run /usr/local/bin/kf-run

# Non-root; GitLab's Docker executor creates the build directory writable by
# any uid (umask 0000), and $GOPATH (/go) is world-writable in this base, so
# module downloads and the build cache ($HOME/.cache) work as this user.
USER 1000:1000
WORKDIR /home/kf-run

# Exec form, so SIGINT/SIGTERM reach kf-run (it terminates the runs it
# started).
ENTRYPOINT ["/usr/local/bin/kf-run"]
CMD ["--help"]
