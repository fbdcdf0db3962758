package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// write writes the report: the table or JSON to stdout, and the HTML and
// benchstat files asked for.
func (s *session) write() error {
	var errs []error
	if s.o.json {
		enc := json.NewEncoder(s.stdout)
		enc.SetIndent("", "  ")
		errs = append(errs, enc.Encode(&s.rep))
	} else {
		errs = append(errs, s.rep.WriteTable(s.stdout))
	}
	if s.o.html != "" {
		errs = append(errs, writeFile(s.o.html, s.stdout, s.rep.WriteHTML))
	}
	if s.o.benchfmt != "" {
		errs = append(errs, writeFile(s.o.benchfmt, s.stdout, s.rep.WriteBenchfmt))
	}
	return errors.Join(errs...)
}

// writeFile writes through f to the file name, or to stdout for "-".
func writeFile(name string, stdout io.Writer, f func(io.Writer) error) error {
	if name == "-" {
		return f(stdout)
	}
	out, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := f(out); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return out.Close()
}
