package sqltest

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// flavor is what differs between PostgreSQL and MariaDB.
type flavor struct {
	name   string // for messages
	title  string // of the Start function: Postgres, MySQL
	prefix string // of directory names
	pkg    string // the Debian package
	env    string // RequirePostgresEnv or RequireMySQLEnv
	driver string // database/sql driver name

	// install looks for the programs, once.
	install func() (*install, error)
	// initTemplate initializes an empty data directory dir.
	initTemplate func(inst *install, dir string) error
	// command returns the server command for s, without its output,
	// working directory and process attributes.
	command func(s *Server) *exec.Cmd
	// stopSignal asks for a clean shutdown; quitSignal for the quickest
	// one that leaves nothing behind (nil: SIGKILL).
	stopSignal, quitSignal os.Signal
	// crashLeftovers reports whether the server, now down, was killed and
	// left something behind that only another start of it frees.
	crashLeftovers func(s *Server) bool

	url, dsn         func(addr, db string) string
	adminDSN         func(addr string) string
	createDB, dropDB func(name string) string

	skipNotice sync.Once
	template   lazy[string] // the template data directory
	shared     lazy[*Server]
}

// install is where a flavor's programs are and who runs them.
type install struct {
	server string   // postgres or mariadbd
	initdb string   // initdb or mariadb-install-db
	runAs  *account // nil: this process's user
}

// account is a system user that servers run as.
type account struct {
	name     string
	uid, gid int
}

// chown gives path to a, if not nil.
func (a *account) chown(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Lchown(path, a.uid, a.gid); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, a.name, err)
	}
	return nil
}

var postgres = &flavor{
	name:    "PostgreSQL",
	title:   "Postgres",
	prefix:  "postgres",
	pkg:     "postgresql",
	env:     RequirePostgresEnv,
	driver:  "pgx",
	install: sync.OnceValues(findPostgres),
	initTemplate: func(inst *install, dir string) error {
		cmd := exec.Command(inst.initdb, "-D", dir, "--auth=trust", "--username=postgres",
			"--encoding=UTF8", "--locale=C", "--no-sync")
		cmd.Dir = filepath.Dir(dir)
		configure(cmd, inst.runAs)
		if err := runCmd(cmd, startTimeout); err != nil {
			return err
		}
		// In the configuration file rather than on the command line, so
		// that ALTER SYSTEM can change them.
		f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, "\n# sessionkv sqltest\n"+
			"listen_addresses = '127.0.0.1'\n"+
			"unix_socket_directories = ''\n"+
			"max_connections = 300\n"+
			"timezone = 'UTC'\n"+
			"log_timezone = 'UTC'\n")
		return errors.Join(err, f.Close())
	},
	command: func(s *Server) *exec.Cmd {
		return exec.Command(s.inst.server, "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.port))
	},
	stopSignal: sigInt,  // fast shutdown
	quitSignal: sigQuit, // immediate shutdown
	crashLeftovers: func(s *Server) bool {
		_, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid"))
		return err == nil
	},
	url: postgresURL,
	dsn: postgresURL,
	adminDSN: func(addr string) string {
		return "postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=5"
	},
	createDB: func(name string) string { return `CREATE DATABASE "` + name + `"` },
	dropDB:   func(name string) string { return `DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)` },
}

var mysql = &flavor{
	name:    "MariaDB",
	title:   "MySQL",
	prefix:  "mysql",
	pkg:     "mariadb-server",
	env:     RequireMySQLEnv,
	driver:  "mysql",
	install: sync.OnceValues(findMariaDB),
	initTemplate: func(inst *install, dir string) error {
		args := []string{"--no-defaults", "--datadir=" + dir,
			"--auth-root-authentication-method=normal", "--skip-test-db"}
		args = append(args, mysqlSettings()...)
		cmd := exec.Command(inst.initdb, args...)
		cmd.Dir = filepath.Dir(dir)
		configure(cmd, inst.runAs)
		return runCmd(cmd, startTimeout)
	},
	command: func(s *Server) *exec.Cmd {
		args := []string{"--no-defaults", // first, or it is ignored
			"--datadir=" + filepath.Join(s.dir, "data"),
			"--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--skip-networking=0",
			"--socket=" + filepath.Join(s.dir, "mysqld.sock"),
			"--pid-file=" + filepath.Join(s.dir, "mysqld.pid"),
		}
		return exec.Command(s.inst.server, append(args, mysqlSettings()...)...)
	},
	stopSignal:     sigTerm,
	quitSignal:     nil, // SIGKILL: InnoDB recovers, and nothing outlives the process
	crashLeftovers: func(*Server) bool { return false },
	url:            func(addr, db string) string { return "mysql://root@" + addr + "/" + url.PathEscape(db) },
	dsn:            func(addr, db string) string { return "root@tcp(" + addr + ")/" + db },
	adminDSN: func(addr string) string {
		// A DROP DATABASE waits for the metadata locks of open transactions:
		// a year by default.
		return "root@tcp(" + addr + ")/?timeout=5s&lock_wait_timeout=10"
	},
	createDB: func(name string) string { return "CREATE DATABASE `" + name + "`" },
	dropDB:   func(name string) string { return "DROP DATABASE IF EXISTS `" + name + "`" },
}

var flavors = []*flavor{postgres, mysql}

func postgresURL(addr, db string) string {
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Host: addr,
		Path: "/" + cmp.Or(db, "postgres"), RawQuery: "sslmode=disable"}).String()
}

// mysqlSettings are the options of mariadbd, and of mariadb-install-db,
// which passes them on: small and quick to start, durable.
func mysqlSettings() []string {
	s := []string{
		"--skip-name-resolve",
		"--skip-log-bin",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=32M",
		"--innodb-temp-data-file-path=ibtmp1:1M:autoextend", // not 12M written at each start
		"--innodb-buffer-pool-dump-at-shutdown=0",
		"--innodb-buffer-pool-load-at-startup=0",
		"--max-connections=300",
		"--character-set-server=utf8mb4",
		"--default-time-zone=+00:00",
	}
	if os.Geteuid() == 0 {
		s = append(s, "--user=root")
	}
	return s
}

// findPostgres looks for initdb and postgres in the newest
// /usr/lib/postgresql/N/bin, then on PATH (a symbolic link to initdb
// counts for the directory it points into), and for the postgres user as
// root.
func findPostgres() (*install, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { // newest first
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(initdb))
	}
	for _, dir := range dirs {
		inst := &install{initdb: filepath.Join(dir, "initdb"), server: filepath.Join(dir, "postgres")}
		if !executable(inst.initdb) || !executable(inst.server) {
			continue
		}
		if os.Geteuid() == 0 {
			u, err := user.Lookup("postgres")
			if err != nil {
				return nil, fmt.Errorf("PostgreSQL refuses to run as root, and there is no postgres user to run it as (%v)", err)
			}
			uid, err1 := strconv.Atoi(u.Uid)
			gid, err2 := strconv.Atoi(u.Gid)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("user postgres: %w", err)
			}
			inst.runAs = &account{name: "postgres", uid: uid, gid: gid}
		}
		return inst, nil
	}
	return nil, errors.New("PostgreSQL's initdb and postgres are in neither /usr/lib/postgresql/*/bin nor PATH")
}

// findMariaDB looks for mariadbd (or mysqld) and mariadb-install-db (or
// mysql_install_db) on PATH, then in /usr/sbin and /usr/bin, which are not
// on every user's PATH.
func findMariaDB() (*install, error) {
	server := lookFor("mariadbd", "mysqld")
	initdb := lookFor("mariadb-install-db", "mysql_install_db")
	if server == "" || initdb == "" {
		return nil, errors.New("MariaDB's mariadbd and mariadb-install-db are in neither PATH nor /usr/sbin")
	}
	return &install{server: server, initdb: initdb}, nil
}

// lookFor returns the path of the first of names found on PATH or in
// /usr/sbin, /usr/bin, /usr/local/sbin or /usr/local/bin, or "".
func lookFor(names ...string) string {
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			if path := filepath.Join(dir, name); executable(path) {
				return path
			}
		}
	}
	return ""
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// compareVersions compares dotted version numbers such as "9.6" and "15".
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// makeTemplate initializes the flavor's template data directory, which
// every server of the flavor copies.
func makeTemplate(f *flavor, inst *install) (string, error) {
	w, err := getWork()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(w.path, "template-"+f.prefix)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	if err := inst.runAs.chown(dir); err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := f.initTemplate(inst, data); err != nil {
		return "", fmt.Errorf("initialize a %s data directory: %w", f.name, err)
	}
	return data, nil
}

// copyTree copies the directory src, of directories and regular files, to
// dst, which must not exist, keeping permissions, and gives the copy to
// owner if not nil.
func copyTree(src, dst string, owner *account) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			err = os.Mkdir(target, 0o700)
		case d.Type().IsRegular():
			err = copyFile(path, target)
		default:
			return fmt.Errorf("%s is neither a regular file nor a directory", path)
		}
		if err == nil {
			err = os.Chmod(target, info.Mode().Perm())
		}
		if err == nil {
			err = owner.chown(target)
		}
		return err
	})
}

// copyFile copies the regular file src to dst, which must not exist. It
// writes every byte, zeros too: PostgreSQL and InnoDB preallocate their
// logs with zeros so that writing them later does not allocate blocks.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
