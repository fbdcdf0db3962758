package redistest

import (
	"bufio"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
		err  string
	}{
		{"+OK\r\n", "OK", ""},
		{":42\r\n", "42", ""},
		{"$5\r\nhello\r\n", "hello", ""},
		{"$0\r\n\r\n", "", ""},
		{"$-1\r\n", nil, ""},
		{"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", []any{"a", []any{"1"}}, ""},
		{"*0\r\n", []any{}, ""},
		{"*-1\r\n", nil, ""},
		{"-ERR unknown command\r\n", nil, "ERR unknown command"},
		{"\r\n", nil, "empty reply"},
		{"$x\r\n", nil, "bad bulk reply"},
		{"*x\r\n", nil, "bad array reply"},
		{"?\r\n", nil, "unexpected reply"},
		{"$5\r\nhel", nil, "EOF"},
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(tc.in)))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("readReply(%q) = %#v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("readReply(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}
