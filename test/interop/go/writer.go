// The writer side: create-or-join, Configure, RegisterNode with heartbeats,
// DeleteNode with its empty-group cleanup, group Delete.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// createOrJoin creates the group document in one transaction on create
// revision 0, or reads the existing one.
func createOrJoin(ctx context.Context, c *clientv3.Client, base, name string) (GroupSpec, error) {
	if !validGroupName(name) {
		return GroupSpec{}, fmt.Errorf("invalid group name %q", name)
	}
	key := groupPath(base, name)
	data := GroupData{Name: name, Created: time.Now(), Spec: GroupSpec{CommonLabels: map[string]string{}}}
	initial, err := json.Marshal(data)
	if err != nil {
		return GroupSpec{}, err
	}
	resp, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(initial))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return GroupSpec{}, err
	}
	if resp.Succeeded {
		return data.Spec, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	var existing GroupData
	if len(kvs) > 0 {
		if err := json.Unmarshal(kvs[0].Value, &existing); err != nil {
			return GroupSpec{}, fmt.Errorf("existing group %s: %w", name, err)
		}
	}
	return existing.Spec, nil
}

// configure replaces the whole spec, compare-and-swap on the mod revision.
func configure(ctx context.Context, c *clientv3.Client, base, name string, spec GroupSpec) error {
	key := groupPath(base, name)
	resp, err := c.Get(ctx, key)
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("group %s not found", name)
	}
	var data GroupData
	if err := json.Unmarshal(resp.Kvs[0].Value, &data); err != nil {
		return fmt.Errorf("failed to unmarshal group data: %w", err)
	}
	data.Spec = spec
	out, err := json.Marshal(data)
	if err != nil {
		return err
	}
	txn, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
		Then(clientv3.OpPut(key, string(out))).Commit()
	if err != nil {
		return err
	}
	if !txn.Succeeded {
		return fmt.Errorf("concurrent modification detected")
	}
	return nil
}

// prepareNode copies the group's common labels (keys the node does not
// set), validates, and stamps status and last_seen once: every heartbeat
// re-puts these same bytes.
func prepareNode(spec GroupSpec, n Node) (Node, error) {
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k, v := range spec.CommonLabels {
		if _, ok := n.Labels[k]; !ok {
			n.Labels[k] = v
		}
	}
	if n.ID == "" || n.ExporterType == "" || n.Port <= 0 || n.MetricsPath == "" {
		return n, fmt.Errorf("invalid node %+v", n)
	}
	for k, v := range n.Labels {
		if k == "" || v == "" || strings.Contains(k, "=") {
			return n, fmt.Errorf("invalid label %q=%q", k, v)
		}
	}
	n.Status = "healthy"
	n.LastSeen = time.Now()
	return n, nil
}

// putNode writes the node under a fresh lease, kept alive once.
func putNode(ctx context.Context, c *clientv3.Client, key string, value []byte, ttl time.Duration) (clientv3.LeaseID, error) {
	lease, err := c.Grant(ctx, int64(ttl.Seconds()))
	if err != nil {
		return 0, err
	}
	if _, err := c.Put(ctx, key, string(value), clientv3.WithLease(lease.ID)); err != nil {
		return 0, err
	}
	return lease.ID, nil
}

// deleteNode deletes the node, then the whole group by prefix WITHOUT a
// trailing slash when no node of it decodes any more.
func deleteNode(ctx context.Context, c *clientv3.Client, base, group string, n Node) error {
	resp, err := c.Delete(ctx, nodePath(base, group, n))
	if err != nil {
		return err
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("node not found at path: %s", nodePath(base, group, n))
	}
	if _, err := getGroup(ctx, c, base, group); err != nil {
		return nil
	}
	nodes, _, err := getNodes(ctx, c, nodesPath(base, group))
	if err != nil || len(nodes) > 0 {
		return nil
	}
	_, err = c.Delete(ctx, groupPath(base, group), clientv3.WithPrefix())
	return err
}

// deleteGroup is ServiceGroup.Delete: a prefix delete without trailing slash.
func deleteGroup(ctx context.Context, c *clientv3.Client, base, group string) error {
	_, err := c.Delete(ctx, groupPath(base, group), clientv3.WithPrefix())
	return err
}
