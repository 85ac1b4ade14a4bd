// interop: a Go program that writes and reads the registry the way the Go
// library go.lumeweb.com/etcd-registry and promster do, as
// docs/registry-layout.md describes them. Written by this project (the
// library itself cannot be fetched in our CI); the interop tests drive it.
//
//	interop <command> -endpoints URL -prefix PATH [flags]
//	  register -spec FILE -ttl SECONDS   create-or-join, configure, register, heartbeat until stdin closes
//	  delete-node -group G -id ID -exporter-type T
//	  delete-group -group G
//	  configure -group G -spec JSON       replace the whole spec (CAS)
//	  create-group -group G
//	  read-all                            GetServiceGroups + GetServiceGroup + GetNodes, as JSON
//	  promster-targets                    promster's jobs, as JSON
//	  watch                               one JSON line per event under the prefix until stdin closes
//	  decode -kind node|group             decode a JSON array of documents (stdin) with json.Unmarshal
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
	_ "time/tzdata"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: interop <command> [flags]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	endpoints := fs.String("endpoints", "", "etcd endpoint")
	prefix := fs.String("prefix", "/services", "registry base path")
	group := fs.String("group", "", "group name")
	id := fs.String("id", "", "node id")
	exporterType := fs.String("exporter-type", "", "exporter type")
	specArg := fs.String("spec", "", "spec file (register) or JSON (configure)")
	ttl := fs.Int("ttl", 4, "lease TTL in seconds")
	kind := fs.String("kind", "node", "document kind for decode")
	reput := fs.Bool("reput", true, "register: re-put every TTL/2 (RegisterNodeWithRetry); false: keep the leases alive only")
	_ = fs.Parse(os.Args[2:])

	if cmd == "decode" {
		fail(decode(*kind))
		return
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoints}, DialTimeout: 5 * time.Second})
	fail(err)
	defer c.Close()
	ctx := context.Background()
	switch cmd {
	case "register":
		fail(register(ctx, c, *prefix, *specArg, time.Duration(*ttl)*time.Second, *reput))
	case "delete-node":
		fail(deleteNode(ctx, c, *prefix, *group, Node{ID: *id, ExporterType: *exporterType}))
	case "delete-group":
		fail(deleteGroup(ctx, c, *prefix, *group))
	case "create-group":
		_, err := createOrJoin(ctx, c, *prefix, *group)
		fail(err)
	case "configure":
		var spec GroupSpec
		fail(json.Unmarshal([]byte(*specArg), &spec))
		fail(configure(ctx, c, *prefix, *group, spec))
	case "read-all":
		groups, err := readAll(ctx, c, *prefix)
		fail(err)
		printJSON(groups)
	case "promster-targets":
		jobs, err := promsterJobs(ctx, c, *prefix)
		fail(err)
		printJSON(jobs)
	case "watch":
		fail(watch(ctx, c, *prefix))
	default:
		fail(fmt.Errorf("unknown command %q", cmd))
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

func printJSON(v any) {
	out, err := json.Marshal(v)
	fail(err)
	fmt.Println(string(out))
}

// RegisterSpec is the register command's input.
type RegisterSpec struct {
	Groups []struct {
		Name      string     `json:"name"`
		Configure *GroupSpec `json:"configure"`
	} `json:"groups"`
	Nodes []struct {
		Group string `json:"group"`
		Node  Node   `json:"node"`
	} `json:"nodes"`
}

type registered struct {
	group string
	node  Node
	key   string
	value []byte
}

// register joins the groups, configures them, registers the nodes (each with
// a copy of its group's in-memory common labels) and re-puts the same bytes
// every TTL/2, under a new lease every second heartbeat (with -reput=false
// it only keeps the leases alive, so deletes by others stay done). When stdin closes
// (the registrant's context is cancelled) it deletes its nodes, as Go does.
func register(ctx context.Context, c *clientv3.Client, base, file string, ttl time.Duration, reput bool) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var spec RegisterSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return err
	}
	specs := map[string]GroupSpec{}
	for _, g := range spec.Groups {
		s, err := createOrJoin(ctx, c, base, g.Name)
		if err != nil {
			return err
		}
		if g.Configure != nil {
			if err := configure(ctx, c, base, g.Name, *g.Configure); err != nil {
				return err
			}
			s = *g.Configure
		}
		specs[g.Name] = s
	}
	nodes := []registered{}
	leases := []clientv3.LeaseID{}
	for _, n := range spec.Nodes {
		node, err := prepareNode(specs[n.Group], n.Node)
		if err != nil {
			return err
		}
		value, err := json.Marshal(node)
		if err != nil {
			return err
		}
		r := registered{group: n.Group, node: node, key: nodePath(base, n.Group, node), value: value}
		lease, err := putNode(ctx, c, r.key, r.value, ttl)
		if err != nil {
			return err
		}
		nodes = append(nodes, r)
		leases = append(leases, lease)
	}
	printJSON(map[string]any{"ready": true, "leases": hexIDs(leases)})
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	current := make([]clientv3.LeaseID, len(nodes))
	for i := range leases {
		current[i] = leases[i]
		if !reput {
			alive, err := c.KeepAlive(ctx, current[i])
			if err != nil {
				return err
			}
			go func() {
				for range alive {
				}
			}()
		}
	}
	tick := ttl / 2
	if !reput {
		tick = time.Duration(1 << 62)
	}
	for beat := 1; ; beat++ {
		select {
		case <-stop:
			for _, r := range nodes {
				_ = deleteNode(ctx, c, base, r.group, r.node)
			}
			printJSON(map[string]any{"stopped": true})
			return nil
		case <-time.After(tick):
		}
		ids := []clientv3.LeaseID{}
		for i, r := range nodes {
			if beat%2 == 1 {
				lease, err := putNode(ctx, c, r.key, r.value, ttl)
				if err != nil {
					return err
				}
				current[i] = lease
			} else {
				if _, err := c.KeepAliveOnce(ctx, current[i]); err != nil {
					return err
				}
				if _, err := c.Put(ctx, r.key, string(r.value), clientv3.WithLease(current[i])); err != nil {
					return err
				}
			}
			ids = append(ids, current[i])
		}
		printJSON(map[string]any{"heartbeat": beat, "leases": hexIDs(ids)})
	}
}

// watch prints every event under the prefix, with whether Go decodes it.
func watch(ctx context.Context, c *clientv3.Client, base string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := c.Watch(ctx, base, clientv3.WithPrefix())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	printJSON(map[string]any{"watching": true})
	for resp := range events {
		for _, ev := range resp.Events {
			line := map[string]any{"type": ev.Type.String(), "key": string(ev.Kv.Key)}
			if ev.Type == clientv3.EventTypePut {
				var n Node
				var g GroupData
				line["node_error"] = errText(json.Unmarshal(ev.Kv.Value, &n))
				line["group_error"] = errText(json.Unmarshal(ev.Kv.Value, &g))
			}
			printJSON(line)
		}
	}
	return nil
}

// hexIDs prints lease ids as strings: as JSON numbers they lose precision.
func hexIDs(ids []clientv3.LeaseID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("%x", int64(id))
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// decode reads a JSON array of document strings and reports, per document,
// whether json.Unmarshal into the Go type accepts it, and what it read.
func decode(kind string) error {
	var docs []string
	if err := json.NewDecoder(os.Stdin).Decode(&docs); err != nil {
		return err
	}
	out := []map[string]any{}
	for _, d := range docs {
		var err error
		var v any
		if kind == "group" {
			var g GroupData
			err = json.Unmarshal([]byte(d), &g)
			v = g
		} else {
			var n Node
			err = json.Unmarshal([]byte(d), &n)
			v = n
		}
		if err != nil {
			out = append(out, map[string]any{"ok": false, "error": err.Error()})
		} else {
			out = append(out, map[string]any{"ok": true, "value": v})
		}
	}
	printJSON(out)
	return nil
}
