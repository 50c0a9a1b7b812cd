package djangosession

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sessionkv/session"
)

// maxDepth bounds nesting as the session type model does: the values of the
// session map sit at depth 0, the elements of a container at depth d at
// d+1, and nothing may sit deeper than 64.
const maxDepth = 64

// Codec is a session.Codec that reads and writes session data as Django's
// JSONSerializer does: json.dumps(values, separators=(",", ":")) encoded as
// Latin-1, which is pure ASCII, and json.loads of the bytes decoded as
// Latin-1. See the package documentation for the type mapping. Object keys
// are written in sorted order (Python writes a dict's insertion order, which
// Go maps do not keep). The zero Codec is ready to use and safe for
// concurrent use.
type Codec struct{}

var _ session.Codec = Codec{}

// Encode implements session.Codec. Besides the session model's types it
// takes what Session.Set would normalize (other integer and float kinds,
// named types, pointers, other slices, arrays, and maps with string keys).
// A value that Django's JSON cannot carry faithfully ([]byte, time.Time, a
// struct, a func, a string that is not valid UTF-8, a map with non-string
// keys, nesting deeper than 64 levels...) fails with an error wrapping
// session.ErrUnsupportedValue that names the key and where in its value the
// problem is, and dst is returned unchanged.
func (Codec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	out, err := encodeMap(dst, values, -1)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Decode implements session.Codec. data must be one JSON object, as
// Python's json.loads reads it after decoding data as Latin-1. Errors wrap
// session.ErrCorrupt.
func (Codec) Decode(data []byte) (map[string]any, error) {
	d := decoder{data: data}
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.errorf("not a JSON object")
	}
	v, err := d.object(-1)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("extra data")
	}
	return v, nil
}

// encodeError is an Encode failure, with the path of the value below the
// session key, built as the error travels up.
type encodeError struct {
	key  string // the session key
	path string // where in its value, e.g. ["a"][2]
	err  error  // wraps session.ErrUnsupportedValue
}

func (e *encodeError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("djangosession: key %q: %v", e.key, e.err)
	}
	return fmt.Sprintf("djangosession: key %q, at %s: %v", e.key, e.path, e.err)
}

func (e *encodeError) Unwrap() error { return e.err }

// unsupported returns an error wrapping session.ErrUnsupportedValue.
func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", session.ErrUnsupportedValue, fmt.Sprintf(format, args...))
}

// atStep returns err as an *encodeError whose path starts with step.
func atStep(err error, step string) *encodeError {
	e, ok := err.(*encodeError)
	if !ok {
		e = &encodeError{err: err}
	}
	e.path = step + e.path
	return e
}

// encodeMap appends the JSON object of m, whose values sit at depth+1
// (depth -1 for the session map itself), keys sorted.
func encodeMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if !utf8.ValidString(k) {
			err = unsupported("map key %q is not valid UTF-8", k)
		} else {
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst, err = encodeValue(dst, m[k], depth+1)
		}
		if err != nil {
			if depth < 0 {
				e := atStep(err, "")
				e.key = k
				return dst, e
			}
			return dst, atStep(err, "["+strconv.Quote(k)+"]")
		}
	}
	return append(dst, '}'), nil
}

// encodeValue appends the JSON of v, which sits at depth.
func encodeValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, unsupported("nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float64:
		return appendFloat(dst, x), nil
	case string:
		if !utf8.ValidString(x) {
			if len(x) > 40 {
				x = x[:40] + "..."
			}
			return dst, unsupported("string %q is not valid UTF-8 (Python strings are Unicode)", x)
		}
		return appendString(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = encodeValue(dst, e, depth+1); err != nil {
				return dst, atStep(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		return encodeMap(dst, x, depth)
	case []byte:
		return dst, unsupported("[]byte: Django's JSON has no bytes type; store a string (e.g. base64) instead")
	}
	return encodeReflect(dst, reflect.ValueOf(v), depth)
}

// encodeReflect handles the Go types a caller may pass that are not the
// session model's: other integer and float kinds, named types, pointers,
// other slices, arrays and maps with string keys.
func encodeReflect(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return encodeValue(dst, rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(dst, rv.Float()), nil
	case reflect.String:
		return encodeValue(dst, rv.String(), depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return encodeValue(dst, rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return dst, unsupported("%s: Django's JSON has no bytes type", rv.Type())
		}
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(dst, "[]"...), nil
		}
		a := make([]any, rv.Len())
		for i := range a {
			a[i] = rv.Index(i).Interface()
		}
		return encodeValue(dst, a, depth)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return dst, unsupported("%s: map keys must be strings", rv.Type())
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return encodeMap(dst, m, depth)
	}
	return dst, unsupported("%s: Django's JSON cannot carry it", rv.Type())
}

// appendFloat appends f as Python's float.__repr__ writes it, which is what
// json.dumps writes: the shortest digits that read back as f, in positional
// notation with at least one digit after the point when the decimal
// exponent is in [-4, 16), in exponent notation (1e+16, 1.5e-07) otherwise;
// NaN, Infinity and -Infinity for the non-finite values.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // -d.ddde±dd
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	mant, exp, _ := strings.Cut(string(e), "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	decpt := x + 1 // digits[0] sits just before the decimal point at decpt
	if decpt <= -4 || decpt > 16 {
		dst = append(dst, digits[0])
		if len(digits) > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if x < 0 {
			dst = append(dst, '-')
			x = -x
		} else {
			dst = append(dst, '+')
		}
		if x < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(x), 10)
	}
	switch {
	case decpt <= 0:
		dst = append(dst, "0."...)
		for range -decpt {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	case decpt >= len(digits):
		dst = append(dst, digits...)
		for range decpt - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	default:
		dst = append(dst, digits[:decpt]...)
		dst = append(dst, '.')
		return append(dst, digits[decpt:]...)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way Python's json.dumps does
// with ensure_ascii: printable ASCII as is, except '"' and '\', which are
// escaped; \n, \r, \t, \b and \f; every other character as \uXXXX in
// lowercase hex, characters beyond the BMP as a surrogate pair. s must be
// valid UTF-8.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendU(dst, rune(c))
			}
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				dst = appendU(appendU(dst, r1), r2)
			} else {
				dst = appendU(dst, r)
			}
			i += size
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
}

// decoder is a JSON parser with the behaviour of Python's json.loads on the
// Latin-1 decoding of its input: bytes 0x80-0xFF are the characters U+0080
// to U+00FF; NaN, Infinity and -Infinity are numbers; control characters
// inside strings are refused. Every element takes at least one byte of
// input, so what it allocates is bounded by the input's size.
type decoder struct {
	data []byte
	pos  int
}

// errorf returns an error wrapping session.ErrCorrupt, with the offset.
func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: djangosession: json: %s at offset %d", session.ErrCorrupt, fmt.Sprintf(format, args...), d.pos)
}

// skipSpace skips the whitespace json.loads allows: space, tab, LF, CR.
func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.errorf("nested deeper than %d levels", maxDepth)
	}
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of data")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	for _, lit := range literals {
		if len(d.data)-d.pos >= len(lit.text) && string(d.data[d.pos:d.pos+len(lit.text)]) == lit.text {
			d.pos += len(lit.text)
			return lit.value, nil
		}
	}
	return nil, d.errorf("expecting value")
}

var literals = []struct {
	text  string
	value any
}{
	{"null", nil}, {"true", true}, {"false", false},
	{"NaN", math.NaN()}, {"Infinity", math.Inf(1)},
}

// object parses an object whose values sit at depth+1. d.pos is at '{'.
func (d *decoder) object(depth int) (map[string]any, error) {
	d.pos++
	m := map[string]any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expecting property name enclosed in double quotes")
		}
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expecting ':' delimiter")
		}
		d.pos++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v // a repeated key keeps its last value, as in Python
		d.skipSpace()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ',':
				d.pos++
				continue
			case '}':
				d.pos++
				return m, nil
			}
		}
		return nil, d.errorf("expecting ',' delimiter")
	}
}

// array parses an array whose elements sit at depth+1. d.pos is at '['.
func (d *decoder) array(depth int) ([]any, error) {
	d.pos++
	a := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos < len(d.data) {
			switch d.data[d.pos] {
			case ',':
				d.pos++
				continue
			case ']':
				d.pos++
				return a, nil
			}
		}
		return nil, d.errorf("expecting ',' delimiter")
	}
}

// string parses a string. d.pos is at '"'. A \u escape of a lone surrogate,
// which a Python string may hold but UTF-8 cannot, becomes U+FFFD.
func (d *decoder) string() (string, error) {
	d.pos++
	start := d.pos
	// Fast path: printable ASCII without escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	var b strings.Builder
	b.Write(d.data[start:d.pos])
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return b.String(), nil
		case c < ' ':
			return "", d.errorf("invalid control character")
		case c >= utf8.RuneSelf:
			b.WriteRune(rune(c)) // Latin-1
			d.pos++
		case c != '\\':
			b.WriteByte(c)
			d.pos++
		default:
			if d.pos+1 >= len(d.data) {
				return "", d.errorf("unterminated string")
			}
			e := d.data[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := d.hex4(d.pos)
				if !ok {
					return "", d.errorf("invalid \\uXXXX escape")
				}
				d.pos += 4
				if utf16.IsSurrogate(r) {
					if r < 0xdc00 && d.pos+6 <= len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						if r2, ok := d.hex4(d.pos + 2); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
							r = utf16.DecodeRune(r, r2)
							d.pos += 6
						}
					}
					if utf16.IsSurrogate(r) {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				d.pos -= 2
				return "", d.errorf("invalid \\escape")
			}
		}
	}
	return "", d.errorf("unterminated string")
}

// hex4 reads the four hex digits at i.
func (d *decoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

var errIntRange = errors.New("integer out of the range of int64 and uint64")

// number parses a number as Python does: without a fraction or exponent an
// int (int64, or uint64 above math.MaxInt64; larger ones are an error),
// otherwise a float, ±Inf when out of range as Python's float() gives.
// "-Infinity" is read here too.
func (d *decoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
		if rest := d.data[d.pos:]; len(rest) >= 8 && string(rest[:8]) == "Infinity" {
			d.pos += 8
			return math.Inf(-1), nil
		}
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.pos < len(d.data) && d.data[d.pos] >= '1' && d.data[d.pos] <= '9':
		digits()
	default:
		return nil, d.errorf("expecting value")
	}
	isFloat := false
	if d.pos+1 < len(d.data) && d.data[d.pos] == '.' && d.data[d.pos+1] >= '0' && d.data[d.pos+1] <= '9' {
		d.pos++
		digits()
		isFloat = true
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		mark := d.pos
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() > 0 {
			isFloat = true
		} else {
			d.pos = mark // not an exponent; what follows is an error
		}
	}
	text := string(d.data[start:d.pos])
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, d.errorf("number %q: %v", text, err)
		}
		return f, nil // out of range: ±Inf or 0, as Python's float()
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(text, 10, 64); err == nil {
		return u, nil
	}
	d.pos = start
	if len(text) > 40 {
		text = text[:40] + "..."
	}
	return nil, d.errorf("%s: %v", text, errIntRange)
}
