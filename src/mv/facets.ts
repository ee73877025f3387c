/**
 * MV data beyond the core person that only some targets use: a target declares the facets it
 * needs (`Target.mv`) and the core loads them with the wave's one query. A facet nobody asks for
 * costs nothing: its subquery is left out.
 */
export const MV_FACETS = ['orgUnits', 'enrolments'] as const;
export type MvFacet = (typeof MV_FACETS)[number];

/** A facet's column in the person query: a correlated subquery over `p` (the persons row), as JSON. */
export function facetColumn(facet: MvFacet, s: string): string {
  switch (facet) {
    case 'orgUnits':
      // The person's org unit first, then its parents up to the faculty (AD's placement, Moodle's department).
      return `(WITH RECURSIVE chain AS (
            SELECT o.*, 0 AS depth FROM ${s}.org_units o WHERE o.stedkode = p.stedkode
            UNION ALL SELECT o.*, c.depth + 1 FROM ${s}.org_units o JOIN chain c ON o.stedkode = c.parent_stedkode)
          SELECT coalesce(json_agg(json_build_object('stedkode', stedkode, 'parentStedkode', parent_stedkode, 'level', level,
            'nameNb', name_nb, 'nameEn', name_en, 'shortName', short_name, 'adOu', ad_ou) ORDER BY depth), '[]') FROM chain) AS "orgUnits"`;
    case 'enrolments':
      // Active topics with term and course type (Moodle's courses).
      return `(SELECT coalesce(json_agg(json_build_object('sourceId', t.source_id, 'institution', t.institution, 'code', t.code,
            'version', t.version, 'term', m.term, 'year', m.year, 'role', m.role, 'emnetype', t.emnetype, 'nameNb', t.name_nb)
            ORDER BY t.source_id, m.year, m.term, m.role), '[]')
           FROM ${s}.master_persons m JOIN ${s}.master_topics t ON t.source_id = m.source_id
          WHERE m.idauto_id = p.idauto_id AND t.status = 'active') AS "enrolments"`;
  }
}

/** The facets asked for, each once, in a fixed order (so equal needs build equal SQL). */
export function normaliseFacets(facets: readonly string[]): MvFacet[] {
  const unknown = facets.filter((f) => !(MV_FACETS as readonly string[]).includes(f));
  if (unknown.length) throw new Error(`unknown MV facet${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${MV_FACETS.join(', ')})`);
  return MV_FACETS.filter((f) => facets.includes(f));
}
