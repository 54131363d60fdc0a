// Package cifiles has no code: its tests check the CI files this repository
// ships to users and runs itself. The GitHub workflows and the example
// workflows go through actionlint, and every step that uses the kf-run
// Action passes only inputs that action.yml declares; the GitLab CI/CD
// component (templates/kf-run/template.yml) declares exactly the inputs it
// uses, uses only job keywords GitLab knows, and its script passes inputs
// to kf-run as single arguments, whatever they contain.
package cifiles
