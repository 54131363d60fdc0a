package podspec

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
)

// quantityRE is a Kubernetes resource quantity: a decimal number, then an
// exponent (1e3), a binary suffix (Ki..Ei) or a decimal suffix (n..E).
// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
var quantityRE = regexp.MustCompile(`^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$`)

var suffixes = map[string]*big.Rat{
	"": big.NewRat(1, 1), "n": big.NewRat(1, 1e9), "u": big.NewRat(1, 1e6), "m": big.NewRat(1, 1e3),
	"k": big.NewRat(1e3, 1), "M": big.NewRat(1e6, 1), "G": big.NewRat(1e9, 1), "T": big.NewRat(1e12, 1),
	"P": big.NewRat(1e15, 1), "E": big.NewRat(1e18, 1),
	"Ki": big.NewRat(1<<10, 1), "Mi": big.NewRat(1<<20, 1), "Gi": big.NewRat(1<<30, 1), "Ti": big.NewRat(1<<40, 1),
	"Pi": big.NewRat(1<<50, 1), "Ei": big.NewRat(1<<60, 1),
}

var errNegative = errors.New("negative")

// parseQuantity returns the quantity's value in base units (cores, bytes,
// devices). It refuses malformed and negative quantities.
func parseQuantity(q string) (*big.Rat, error) {
	m := quantityRE.FindStringSubmatch(q)
	if m == nil {
		return nil, fmt.Errorf("%q is not a Kubernetes quantity (e.g. 500m, 2, 1.5, 512Mi, 4Gi)", q)
	}
	v, ok := new(big.Rat).SetString(m[1] + m[2])
	if !ok {
		return nil, fmt.Errorf("%q is not a Kubernetes quantity (e.g. 500m, 2, 1.5, 512Mi, 4Gi)", q)
	}
	if v.Sign() < 0 {
		return nil, fmt.Errorf("%q: %w", q, errNegative)
	}
	return v.Mul(v, suffixes[m[3]]), nil
}

// float is v as the float64 KFP's ResourceSpec carries.
func float(v *big.Rat) float64 {
	f, _ := v.Float64()
	return f
}
