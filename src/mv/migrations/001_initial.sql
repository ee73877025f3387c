-- The MV database (the seed's "MetaVault" / RIDB): org units, people, their affiliations and
-- business roles, the course catalogue and who studies or teaches what.
-- No schema is named here: migrate() sets search_path to the target schema.

CREATE TABLE org_units (
  -- stedkode: faculty(2) department(2) group(2); 140000 is a faculty, 140500 a department, 140510 a group.
  stedkode        text PRIMARY KEY CHECK (stedkode ~ '^[0-9]{6}$'),
  parent_stedkode text REFERENCES org_units (stedkode),
  level           text NOT NULL CHECK (level IN ('faculty', 'department', 'group')),
  name_nb         text NOT NULL,
  name_en         text NOT NULL,
  short_name      text NOT NULL,
  -- The OU name an AD account of this unit is placed in.
  ad_ou           text NOT NULL,
  CHECK ((level = 'faculty') = (parent_stedkode IS NULL))
);
CREATE INDEX org_units_parent_idx ON org_units (parent_stedkode);

CREATE TABLE persons (
  idauto_id           uuid PRIMARY KEY,
  -- Not unique on purpose: the source data can hold duplicates, and the flows must report them.
  username            text,
  student_id          text,
  hr_id               text,
  primary_affiliation text NOT NULL CHECK (primary_affiliation IN ('employee', 'student', 'affiliate', 'sensor')),
  stedkode            text REFERENCES org_units (stedkode),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX persons_username_idx ON persons (username);
CREATE INDEX persons_student_id_idx ON persons (student_id);
CREATE INDEX persons_hr_id_idx ON persons (hr_id);

CREATE TABLE person_affiliations (
  idauto_id   uuid NOT NULL REFERENCES persons (idauto_id) ON DELETE CASCADE,
  affiliation text NOT NULL CHECK (affiliation IN ('employee', 'student', 'affiliate', 'sensor')),
  stedkode    text NOT NULL REFERENCES org_units (stedkode),
  valid_from  date NOT NULL,
  -- NULL: open-ended (a permanent position).
  valid_to    date,
  PRIMARY KEY (idauto_id, affiliation, stedkode),
  CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

CREATE TABLE business_roles (
  idauto_id uuid NOT NULL REFERENCES persons (idauto_id) ON DELETE CASCADE,
  role      text NOT NULL,
  PRIMARY KEY (idauto_id, role)
);
CREATE INDEX business_roles_role_idx ON business_roles (role);

CREATE TABLE master_topics (
  -- institution:code:version, e.g. 1120:INF100:1
  source_id   text PRIMARY KEY,
  institution text NOT NULL,
  code        text NOT NULL,
  version     integer NOT NULL CHECK (version > 0),
  name_nb     text NOT NULL,
  name_en     text NOT NULL,
  -- Course type (EMNE, EKSPERTISE, PHD, ...): Moodle gets one sub-category per type and semester.
  emnetype    text NOT NULL,
  term        text NOT NULL CHECK (term IN ('VÅR', 'HØST')),
  year        integer NOT NULL,
  stedkode    text NOT NULL REFERENCES org_units (stedkode),
  status      text NOT NULL DEFAULT 'active',
  CHECK (source_id = institution || ':' || code || ':' || version)
);
CREATE INDEX master_topics_semester_idx ON master_topics (year, term);

CREATE TABLE master_persons (
  idauto_id uuid NOT NULL REFERENCES persons (idauto_id) ON DELETE CASCADE,
  source_id text NOT NULL REFERENCES master_topics (source_id) ON DELETE CASCADE,
  term      text NOT NULL CHECK (term IN ('VÅR', 'HØST')),
  year      integer NOT NULL,
  role      text NOT NULL CHECK (role IN ('student', 'teacher')),
  -- Leads with idauto_id: a person's courses (the Moodle user flow) use the primary key.
  PRIMARY KEY (idauto_id, source_id, term, year, role)
);
-- A course's people (the Moodle courses flow reprocesses them).
CREATE INDEX master_persons_source_idx ON master_persons (source_id, term, year);
