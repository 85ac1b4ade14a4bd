// The reader side: GetServiceGroups, GetServiceGroup, GetNodes, a watch,
// and the scrape jobs promster builds from them.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// getServiceGroups lists the first path segment of every key under the base
// path, as Go does (keys only, trimmed by base + "/").
func getServiceGroups(ctx context.Context, c *clientv3.Client, base string) ([]string, error) {
	resp, err := c.Get(ctx, base, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, kv := range resp.Kvs {
		rel := strings.TrimPrefix(string(kv.Key), base+"/")
		seen[strings.Split(rel, "/")[0]] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func getGroup(ctx context.Context, c *clientv3.Client, base, name string) (GroupData, error) {
	resp, err := c.Get(ctx, groupPath(base, name))
	if err != nil {
		return GroupData{}, err
	}
	if len(resp.Kvs) == 0 {
		return GroupData{}, fmt.Errorf("group %s not found", name)
	}
	var data GroupData
	if err := json.Unmarshal(resp.Kvs[0].Value, &data); err != nil {
		return GroupData{}, fmt.Errorf("failed to unmarshal group data: %w", err)
	}
	if data.Spec.CommonLabels == nil {
		data.Spec.CommonLabels = map[string]string{}
	}
	return data, nil
}

// getNodes reads every key under nodesPath (no trailing slash) and skips
// values that do not decode; it returns how many it skipped.
func getNodes(ctx context.Context, c *clientv3.Client, nodes string) ([]Node, []string, error) {
	resp, err := c.Get(ctx, nodes, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, err
	}
	out := []Node{}
	skipped := []string{}
	for _, kv := range resp.Kvs {
		var n Node
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			skipped = append(skipped, string(kv.Key)+": "+err.Error())
			continue
		}
		out = append(out, n)
	}
	return out, skipped, nil
}

// GroupRead is what read-all prints per group.
type GroupRead struct {
	Name         string     `json:"name"`
	GroupError   string     `json:"group_error,omitempty"`
	Group        *GroupData `json:"group,omitempty"`
	Nodes        []Node     `json:"nodes"`
	SkippedNodes []string   `json:"skipped_nodes"`
}

func readAll(ctx context.Context, c *clientv3.Client, base string) ([]GroupRead, error) {
	names, err := getServiceGroups(ctx, c, base)
	if err != nil {
		return nil, err
	}
	out := []GroupRead{}
	for _, name := range names {
		r := GroupRead{Name: name}
		if g, err := getGroup(ctx, c, base, name); err != nil {
			r.GroupError = err.Error()
		} else {
			r.Group = &g
		}
		if r.Nodes, r.SkippedNodes, err = getNodes(ctx, c, nodesPath(base, name)); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Job is one scrape job as promster generates it.
type Job struct {
	Name        string            `json:"job_name"`
	Targets     []string          `json:"targets"`
	Labels      map[string]string `json:"labels"`
	MetricsPath string            `json:"metrics_path"`
	BasicAuth   *GroupSpec        `json:"basic_auth,omitempty"`
}

// address is promster's: ingress_host + ":" + port, else id + ":" + port.
func address(n Node) string {
	if h := n.Labels["ingress_host"]; h != "" {
		return h + ":" + strconv.Itoa(n.Port)
	}
	return n.ID + ":" + strconv.Itoa(n.Port)
}

// promsterJobs: one job per (group, exporter type), named
// <group>-<exporter_type>, with the labels and metrics path of its first
// node over the common labels; basic_auth when the password is set. A group
// whose document is missing or does not decode is skipped.
func promsterJobs(ctx context.Context, c *clientv3.Client, base string) ([]Job, error) {
	names, err := getServiceGroups(ctx, c, base)
	if err != nil {
		return nil, err
	}
	jobs := []Job{}
	for _, name := range names {
		g, err := getGroup(ctx, c, base, name)
		if err != nil {
			continue
		}
		nodes, _, err := getNodes(ctx, c, nodesPath(base, name))
		if err != nil {
			return nil, err
		}
		byType := map[string]*Job{}
		order := []string{}
		for _, n := range nodes {
			j := byType[n.ExporterType]
			if j == nil {
				labels := map[string]string{}
				for k, v := range g.Spec.CommonLabels {
					labels[k] = v
				}
				for k, v := range n.Labels {
					labels[k] = v
				}
				j = &Job{Name: name + "-" + n.ExporterType, Labels: labels, MetricsPath: n.MetricsPath}
				if g.Spec.Password != "" {
					j.BasicAuth = &GroupSpec{Username: g.Spec.Username, Password: g.Spec.Password}
				}
				byType[n.ExporterType] = j
				order = append(order, n.ExporterType)
			}
			j.Targets = append(j.Targets, address(n))
		}
		for _, t := range order {
			jobs = append(jobs, *byType[t])
		}
	}
	return jobs, nil
}
