// Command kfbuild runs kf-run's build stage (internal/build) alone, for the
// benchmark: kfbuild -repo R -base B -platform P [-C dir] ko://pkg...
// It prints the pushed references.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kf-run/kf-run/internal/build"
)

func main() {
	var o build.Options
	var platforms string
	flag.StringVar(&o.Dir, "C", ".", "directory of the module")
	flag.StringVar(&o.Repo, "repo", os.Getenv("KO_DOCKER_REPO"), "image repository")
	flag.StringVar(&o.BaseImage, "base", os.Getenv("KO_DEFAULTBASEIMAGE"), "base image")
	flag.StringVar(&platforms, "platform", "linux/amd64", "platforms, comma-separated")
	quiet := flag.Bool("q", false, "no progress lines")
	flag.Parse()
	o.Platforms = strings.Split(platforms, ",")
	if !*quiet {
		o.Log = func(s string) { fmt.Fprintln(os.Stderr, s) }
	}
	var targets []build.Target
	for _, ref := range flag.Args() {
		targets = append(targets, build.Target{Ref: ref})
	}
	imgs, err := build.Images(context.Background(), o, targets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfbuild:", err)
		os.Exit(1)
	}
	for _, im := range imgs {
		fmt.Println(im.Digest)
	}
}
