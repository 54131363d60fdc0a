// Package multiusertest holds the sandbox's multi-user tests. They live in
// their own test binary because KFP reads MULTIUSER from process-wide viper
// config: single- and multi-user sandboxes cannot share a process.
package multiusertest
