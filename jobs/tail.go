package jobs

import (
	"bytes"
	"os"
)

// tail reads a file another process appends lines to (Terraform's -json
// output), handing over each complete line with the offset where it ends.
type tail struct {
	path  string
	f     *os.File
	pos   int64 // end of the last line handed over
	buf   []byte
	found bool // the file exists
}

// read hands over every complete line written since the last read; with final
// (the writer has exited) a last line without its newline too.
func (t *tail) read(emit func(line []byte, end int64), final bool) {
	if t.f == nil {
		f, err := os.Open(t.path)
		if err != nil {
			return
		}
		t.f, t.found = f, true
	}
	chunk := make([]byte, 64<<10)
	for {
		n, err := t.f.Read(chunk)
		if n > 0 {
			t.buf = append(t.buf, chunk[:n]...)
			start := 0
			for {
				i := bytes.IndexByte(t.buf[start:], '\n')
				if i < 0 {
					break
				}
				t.pos += int64(i + 1)
				emit(t.buf[start:start+i], t.pos)
				start += i + 1
			}
			if start > 0 {
				t.buf = append([]byte(nil), t.buf[start:]...)
			}
		}
		if err != nil || n == 0 {
			break
		}
	}
	if final && len(t.buf) > 0 {
		t.pos += int64(len(t.buf))
		emit(t.buf, t.pos)
		t.buf = nil
	}
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
	}
}
