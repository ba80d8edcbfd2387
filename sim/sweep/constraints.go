package sweep

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw/tomlpos"
)

// Constraint bounds one metric column of a point: "area_mm2.total <= 4". Points
// that violate a spec's constraints are kept, flagged in the violates column, and
// left out of Pareto fronts.
type Constraint struct {
	Column string
	Op     string // "<=", "<", ">=" or ">"
	Bound  float64
}

// ColViolates lists the constraints a point violates, joined by "; " ("" when it
// meets them all, or failed). A spec without constraints has no such column.
const ColViolates = "violates"

var constraintOps = []string{"<=", ">=", "<", ">"}

// ParseConstraint reads a bound such as "<= 4" on column.
func ParseConstraint(column, bound string) (Constraint, error) {
	s := strings.TrimSpace(bound)
	for _, op := range constraintOps {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return Constraint{}, fmt.Errorf("bound %q: want a finite number after %s", bound, op)
			}
			return Constraint{Column: column, Op: op, Bound: v}, nil
		}
	}
	return Constraint{}, fmt.Errorf("bound %q: want one of %s and a number, e.g. \"<= 4\"", bound, strings.Join(constraintOps, " "))
}

// ParseWhere reads a constraint written as one word, "area_mm2.total<=4", as
// `rctsim plot --where` takes it.
func ParseWhere(s string) (Constraint, error) {
	if i := strings.IndexAny(s, "<>"); i >= 0 {
		if column := strings.TrimSpace(s[:i]); column != "" {
			return ParseConstraint(column, s[i:])
		}
	}
	return Constraint{}, fmt.Errorf("%q: want column<=value (or <, >=, >)", s)
}

// Holds reports whether v meets the constraint; NaN never does.
func (c Constraint) Holds(v float64) bool {
	switch c.Op {
	case "<=":
		return v <= c.Bound
	case "<":
		return v < c.Bound
	case ">=":
		return v >= c.Bound
	}
	return v > c.Bound
}

func (c Constraint) String() string {
	return c.Column + c.Op + strconv.FormatFloat(c.Bound, 'g', -1, 64)
}

// resolveColumn names the metric column a constraint key means: the column itself, or
// its total ("area_mm2" is "area_mm2.total").
func resolveColumn(metrics []string, key string) (string, bool) {
	for _, c := range []string{key, key + ".total"} {
		if slices.Contains(metrics, c) {
			return c, true
		}
	}
	return "", false
}

// constraints reads the spec's [constraints] table: metric column = "op bound".
func (p *parser) constraints(raw map[string]any) {
	v, ok := raw["constraints"]
	if !ok {
		return
	}
	tbl, ok := v.(map[string]any)
	if !ok {
		p.fail("constraints", `want a table of column = "<= bound", got %s`, tomlpos.Describe(v))
		return
	}
	metrics := metricNames()
	for _, k := range p.keysInOrder(tbl, "constraints") {
		path := "constraints." + tomlpos.Seg(k)
		col, ok := resolveColumn(metrics, k)
		if !ok || !numericMetric(col) {
			p.fail(path, "no numeric metric column %q (e.g. area_mm2.total, power_mw.total, energy_pj.total, seconds)", k)
			continue
		}
		s, ok := tbl[k].(string)
		if !ok {
			p.fail(path, `want a bound as text, e.g. "<= 4", got %s`, tomlpos.Describe(tbl[k]))
			continue
		}
		c, err := ParseConstraint(col, s)
		if err != nil {
			p.fail(path, "%v", err)
			continue
		}
		p.spec.Constraints = append(p.spec.Constraints, c)
	}
}

// numericMetric reports whether a metric column holds numbers (all but the profile's
// name and node).
func numericMetric(col string) bool { return col != "profile" && col != "technology_node" }

// violations lists the constraints the metrics violate.
func violations(cs []Constraint, columns, metrics []string) string {
	var out []string
	for _, c := range cs {
		i := slices.Index(columns, c.Column)
		v, err := strconv.ParseFloat(metrics[i], 64)
		if err != nil || !c.Holds(v) {
			out = append(out, c.String())
		}
	}
	return strings.Join(out, "; ")
}
