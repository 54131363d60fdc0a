// Command prep is an example pipeline step written in Go: kf-run builds it
// with ko from the ko:// reference in examples/ko/pipeline.yaml, pushes it
// and pins the step to the pushed digest.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	rows := flag.Int("rows", 3, "rows to write")
	out := flag.String("out", "", "file to write the rows to")
	flag.Parse()
	fmt.Printf("prep: writing %d rows\n", *rows)
	if *out == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "prep:", err)
		os.Exit(1)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prep:", err)
		os.Exit(1)
	}
	defer f.Close()
	for i := range *rows {
		fmt.Fprintf(f, "%d,%d\n", i, i*i)
	}
}
