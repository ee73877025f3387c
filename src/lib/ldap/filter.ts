/**
 * Search filters built as values, never by pasting strings: ldapts's filter classes, which
 * escape `*`, `(`, `)`, `\` and NUL as RFC 4515 asks when written as text and send the raw value
 * on the wire (BER) when handed to a search, so no value can change a filter's shape.
 * `(${attr}=${value})` with a value of `*` matches everyone; `eq(attr, value)` matches only `*`.
 */
import { AndFilter, EqualityFilter, Filter, GreaterThanEqualsFilter, LessThanEqualsFilter, NotFilter, OrFilter, PresenceFilter } from 'ldapts';

export type { Filter } from 'ldapts';

/** `(attr=value)`, the value taken literally. */
export function eq(attribute: string, value: string): Filter {
  return new EqualityFilter({ attribute, value });
}

/** `(attr>=value)` by the attribute's ordering rule, e.g. a change log read from a CSN on. */
export function ge(attribute: string, value: string): Filter {
  return new GreaterThanEqualsFilter({ attribute, value });
}

/** `(attr<=value)` by the attribute's ordering rule. */
export function le(attribute: string, value: string): Filter {
  return new LessThanEqualsFilter({ attribute, value });
}

/** `(attr=*)`: the attribute has a value. */
export function present(attribute: string): Filter {
  return new PresenceFilter({ attribute });
}

/** `(&…)`: all of them. At least one: the empty `(&)` is "true" only on servers that know RFC 4526. */
export function and(...filters: Filter[]): Filter {
  if (!filters.length) throw new RangeError('and() of no filters');
  return filters.length === 1 ? filters[0]! : new AndFilter({ filters });
}

/** `(|…)`: any of them. At least one (the empty `(|)` matches nothing, or is refused). */
export function or(...filters: Filter[]): Filter {
  if (!filters.length) throw new RangeError('or() of no filters');
  return filters.length === 1 ? filters[0]! : new OrFilter({ filters });
}

export function not(filter: Filter): Filter {
  return new NotFilter({ filter });
}

/** `(|(attr=v1)(attr=v2)…)`: the attribute equals one of the values. */
export function anyOf(attribute: string, values: readonly string[]): Filter {
  return or(...values.map((v) => eq(attribute, v)));
}

/** RFC 4515 escaping of one assertion value, for the rare filter that must be text. */
export function escapeFilterValue(value: string): string {
  return Filter.escape(value);
}
