package sqlstore

// Bind writes q's "?" placeholders as d's driver takes them, as the store
// does for its own statements: "$1", "$2"... on PostgreSQL.
func Bind(d Dialect, q string) string {
	if d == PostgreSQL {
		return numbered(q)
	}
	return q
}
