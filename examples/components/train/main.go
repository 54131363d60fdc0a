// Command train is an example pipeline step written in Go (see
// examples/ko/pipeline.yaml): it counts the rows prep wrote.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	in := flag.String("in", "", "rows written by prep")
	epochs := flag.Int("epochs", 1, "training epochs")
	flag.Parse()
	n := 0
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			fmt.Fprintln(os.Stderr, "train:", err)
			os.Exit(1)
		}
		defer f.Close()
		for sc := bufio.NewScanner(f); sc.Scan(); {
			n++
		}
	}
	fmt.Printf("train: %d epochs over %d rows\n", *epochs, n)
}
