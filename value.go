package session

import (
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// maxDepth bounds the nesting of session values, when they are set and when
// they are decoded, so a cyclic value or a hostile blob cannot exhaust the
// stack.
const maxDepth = 64

// normalize converts v to the session type model (see the package
// documentation): the only dynamic types a session value, or anything nested
// in it, can have are nil, bool, int64, uint64 (above math.MaxInt64 only),
// float64, string, []byte, time.Time (UTC, no monotonic reading), []any and
// map[string]any. Everything is copied, so later changes to v do not reach
// the session. Values that cannot be represented give ErrUnsupportedValue.
func normalize(v any) (any, error) {
	return normalizeDepth(v, 0)
}

// normalizeDepth normalizes v, which sits inside depth containers below the
// session map; elements of a container at depth d sit at depth d+1, up to
// maxDepth, the count the codec uses too.
func normalizeDepth(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool, string, int64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint:
		return normalizeUint(uint64(x)), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return normalizeUint(x), nil
	case uintptr:
		return normalizeUint(uint64(x)), nil
	case float32:
		return float64(x), nil
	case []byte:
		return append([]byte{}, x...), nil
	case time.Time:
		return x.UTC(), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalizeDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out, nil
	}
	return normalizeReflect(reflect.ValueOf(v), depth)
}

func normalizeUint(u uint64) any {
	if u > math.MaxInt64 {
		return u
	}
	return int64(u)
}

// normalizeReflect handles named types (type Role string), pointers, other
// slices and maps, and structs. Structs go through msgpack so that they take
// the shape they will have after a reload: a map of their exported fields.
func normalizeReflect(rv reflect.Value, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return normalizeUint(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return normalizeDepth(rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			// []byte-like slices and byte arrays ([16]byte UUIDs) are bytes.
			out := make([]byte, rv.Len())
			for i := range out {
				out[i] = byte(rv.Index(i).Uint())
			}
			return out, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalizeDepth(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%w: %s (map keys must be strings)", ErrUnsupportedValue, rv.Type())
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			n, err := normalizeDepth(iter.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[iter.Key().String()] = n
		}
		return out, nil
	case reflect.Struct:
		b, err := msgpack.Marshal(rv.Interface())
		if err == nil {
			var v any
			if v, err = decodeMsgpackValue(b, depth); err == nil {
				return v, nil
			}
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnsupportedValue, rv.Type(), err)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedValue, rv.Type())
}
