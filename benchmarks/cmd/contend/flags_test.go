package main

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaults(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags(nil, &stderr)
	if err != nil || stderr.Len() != 0 {
		t.Fatalf("parseFlags(nil): %v, %s", err, stderr.String())
	}
	if !slices.Equal(o.workers, []int{1, 4, 16}) || !slices.Equal(o.weights, []int64{1, 1, 2, 4}) ||
		o.section != -1 || o.duration != 400*time.Millisecond || o.reps != 3 || o.procs != 2 || o.semSize != 4 ||
		o.workersGiven || o.weightsGiven || o.etcd != "" || o.redis != "" {
		t.Fatalf("defaults %+v", o)
	}
}

func TestParseFlagsGood(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags(strings.Fields(
		"-scenarios mutex,rw -impls lock.Mutex,sync.Mutex -impls rw.RWMutex -baseline lock.Mutex -workers 2,8 -section 1us "+
			"-writes 0.5 -weights 2,3 -sem-size 3 -duration 1s -reps 3 -procs 4 -gomaxprocs 1 -redis 127.0.0.1:6379 -etcd localhost:2379 -json "+
			"-html out.html -benchfmt - -list"), &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	want := options{
		scenarios: []string{"mutex", "rw"}, impls: []string{"lock.Mutex", "sync.Mutex", "rw.RWMutex"}, baseline: []string{"lock.Mutex"},
		workers: []int{2, 8}, workersGiven: true, weightsGiven: true, section: time.Microsecond, writes: 0.5, weights: []int64{2, 3}, semSize: 3, duration: time.Second,
		reps: 3, procs: 4, gomaxprocs: 1, redis: "127.0.0.1:6379", etcd: "localhost:2379", json: true, html: "out.html", benchfmt: "-", list: true,
	}
	if !reflect.DeepEqual(*o, want) {
		t.Fatalf("got %+v\nwant %+v", *o, want)
	}
	for _, ok := range [][]string{{"-section", "auto"}, {"-section", "0"}, {"-redis", "miniredis"}, {"-redis", "localhost:1"}, {"-redis", "[::1]:7000"}, {"-etcd", "127.0.0.1:2379"}, {"-etcd", "[::1]:2379"}} {
		if _, err := parseFlags(ok, &stderr); err != nil {
			t.Errorf("parseFlags(%q): %v", ok, err)
		}
	}
}

func TestParseFlagsBad(t *testing.T) {
	for _, c := range []struct {
		args string
		want string
	}{
		{"-bogus", "flag provided but not defined"},
		{"extra", "unexpected arguments"},
		{"-workers 0", "not a positive integer"},
		{"-workers 2,x", "not a positive integer"},
		{"-workers 5000", "at most 1024"},
		{"-duration 0s", "-duration"},
		{"-duration 11m", "-duration"},
		{"-duration soon", "invalid value"},
		{"-reps 0", "-reps"},
		{"-procs 0", "-procs"},
		{"-gomaxprocs -1", "-gomaxprocs"},
		{"-writes 1.5", "-writes"},
		{"-sem-size 0", "-sem-size"},
		{"-weights 8", "exceeds -sem-size"},
		{"-weights -1", "not a positive integer"},
		{"-section 2s", "want a duration"},
		{"-section -1us", "want a duration"},
		{"-scenarios mutex,nope", `unknown scenario "nope"`},
		{"-impls nope", `-impls: unknown implementation "nope"`},
		{"-baseline nope", `-baseline: unknown implementation "nope"`},
		{"-impls lock.Mutex,", "empty name"},
		{"-redis 10.0.0.1:6379", "only loopback"},
		{"-redis example.com:6379", "only loopback"},
		{"-redis 127.0.0.1", "want host:port"},
		{"-etcd 10.0.0.1:2379", "-etcd \"10.0.0.1:2379\": only loopback"},
		{"-etcd http://127.0.0.1:2379", "-etcd \"http://127.0.0.1:2379\": want host:port"},
		{"-etcd miniredis", "want host:port"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(strings.Fields(c.args), &stderr)
		if err == nil {
			t.Errorf("parseFlags(%q) succeeded", c.args)
			continue
		}
		if !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), "usage: contend") {
			t.Errorf("parseFlags(%q): stderr lacks %q or the usage:\n%s", c.args, c.want, stderr.String())
		}
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"usage: contend", "-workers", "-etcd", "scenarios and implementations", "* sync.Mutex", "lock.Mutex",
		"* etcd-concurrency", "workers 1,4 unless -workers is given"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}
