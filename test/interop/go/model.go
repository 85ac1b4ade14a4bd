// The registry's documents and keys as the Go library defines them
// (docs/registry-layout.md), written by this project from that behaviour.
package main

import (
	"path"
	"strings"
	"time"
)

// Node is a node document: Go's encoding/json writes these fields in this
// order, map keys sorted, <>& escaped, and reads them case-insensitively.
type Node struct {
	ID           string            `json:"id"`
	ExporterType string            `json:"exporter_type"`
	Port         int               `json:"port"`
	MetricsPath  string            `json:"metrics_path"`
	Labels       map[string]string `json:"labels"`
	Status       string            `json:"status"`
	LastSeen     time.Time         `json:"last_seen"`
}

// GroupSpec is a group's configuration; Configure replaces all of it.
type GroupSpec struct {
	Username     string            `json:"username"`
	Password     string            `json:"password"`
	CommonLabels map[string]string `json:"common_labels,omitempty"`
}

// GroupData is a group document.
type GroupData struct {
	Name    string    `json:"name"`
	Spec    GroupSpec `json:"spec"`
	Created time.Time `json:"created"`
}

// Keys are built with path.Join, which cleans the base path and the node id.
func groupPath(base, group string) string { return path.Join(base, group) }
func nodesPath(base, group string) string { return path.Join(base, group, "nodes") }
func nodePath(base, group string, n Node) string {
	return path.Join(nodesPath(base, group), n.ID+"_"+n.ExporterType)
}

// validGroupName is CreateOrJoinServiceGroup's check.
func validGroupName(name string) bool {
	if name == "" || strings.ContainsAny(name, "/\\?#[] ") || len(name) > 63 {
		return false
	}
	return strings.ContainsAny(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
}
