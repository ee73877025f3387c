/**
 * The sample university's organisation: faculties → departments → groups, each with a stedkode
 * (faculty(2) department(2) group(2)), Norwegian and English names, a short name and the AD OU an
 * account of the unit is placed in. Fixed data, not random: it is what every seed has in common.
 */
import { ascii } from './names.js';

export type OrgLevel = 'faculty' | 'department' | 'group';

export interface OrgUnit {
  stedkode: string;
  parentStedkode: string | null;
  level: OrgLevel;
  nameNb: string;
  nameEn: string;
  shortName: string;
  adOu: string;
}

/** [Norwegian (lower case, as used inside a sentence), English (title case)] */
export type Subject = readonly [nb: string, en: string];

interface DepartmentDef {
  code: string;
  nb: string;
  en: string;
  short: string;
  /** Course-code prefix (INF in INF100); absent for units that teach no courses. */
  prefix?: string;
  subjects: readonly Subject[];
  /** Groups; for teaching departments the first subjects' research groups. */
  groups: readonly (readonly [nb: string, en: string, short: string])[];
}

interface FacultyDef {
  code: string;
  nb: string;
  en: string;
  short: string;
  /** False for the central administration: no courses, no students, no academic staff. */
  academic: boolean;
  /** Relative share of the university's students and employees. */
  studentWeight: number;
  employeeWeight: number;
  departments: readonly DepartmentDef[];
}

const research = (subjects: readonly Subject[], short: string, n: number) =>
  subjects.slice(0, n).map(([nb, en], i) => [`Forskergruppe for ${nb}`, `${en} Research Group`, `${short}-${['A', 'B', 'C'][i]}`] as const);

function dept(code: string, nb: string, en: string, short: string, prefix: string, subjects: Subject[], groups = 2): DepartmentDef {
  return { code, nb, en, short, prefix, subjects, groups: research(subjects, short, groups) };
}

export const FACULTIES: readonly FacultyDef[] = [
  {
    code: '11', nb: 'Det humanistiske fakultet', en: 'Faculty of Humanities', short: 'HF', academic: true, studentWeight: 16, employeeWeight: 12,
    departments: [
      dept('05', 'Institutt for arkeologi, historie, kultur- og religionsvitenskap', 'Department of Archaeology, History, Cultural Studies and Religion', 'AHKR', 'HIS',
        [['historie', 'History'], ['arkeologi', 'Archaeology'], ['religionsvitenskap', 'Religious Studies'], ['kulturvitenskap', 'Cultural Studies'], ['middelalderstudier', 'Medieval Studies']]),
      dept('10', 'Institutt for fremmedspråk', 'Department of Foreign Languages', 'IF', 'ENG',
        [['engelsk litteratur', 'English Literature'], ['fransk språk', 'French Language'], ['tysk språk', 'German Language'], ['spansk og latinamerikanske studier', 'Spanish and Latin American Studies']]),
      dept('15', 'Institutt for filosofi og førstesemesterstudier', 'Department of Philosophy', 'FOF', 'FIL',
        [['filosofi', 'Philosophy'], ['etikk', 'Ethics'], ['logikk', 'Logic'], ['vitenskapsteori', 'Philosophy of Science']], 1),
      dept('20', 'Institutt for lingvistiske, litterære og estetiske studier', 'Department of Linguistic, Literary and Aesthetic Studies', 'LLE', 'NORD',
        [['nordisk språk', 'Nordic Languages'], ['nynorsk skriftkultur', 'Nynorsk Written Culture'], ['allmenn litteraturvitenskap', 'Comparative Literature'], ['lingvistikk', 'Linguistics'], ['kunsthistorie', 'Art History']], 3),
    ],
  },
  {
    code: '12', nb: 'Det matematisk-naturvitenskapelige fakultet', en: 'Faculty of Science and Technology', short: 'MN', academic: true, studentWeight: 22, employeeWeight: 24,
    departments: [
      dept('05', 'Matematisk institutt', 'Department of Mathematics', 'MI', 'MAT',
        [['analyse', 'Analysis'], ['algebra', 'Algebra'], ['statistikk', 'Statistics'], ['anvendt matematikk', 'Applied Mathematics'], ['lineær algebra', 'Linear Algebra']], 3),
      dept('10', 'Institutt for informatikk', 'Department of Informatics', 'II', 'INF',
        [['programmering', 'Programming'], ['algoritmer', 'Algorithms'], ['maskinlæring', 'Machine Learning'], ['datasikkerhet', 'Computer Security'], ['databaser', 'Databases'], ['programvareutvikling', 'Software Engineering']], 3),
      dept('15', 'Institutt for fysikk og teknologi', 'Department of Physics and Technology', 'IFT', 'PHYS',
        [['mekanikk', 'Mechanics'], ['kvantefysikk', 'Quantum Physics'], ['romfysikk', 'Space Physics'], ['akustikk', 'Acoustics'], ['energiteknologi', 'Energy Technology']]),
      dept('20', 'Kjemisk institutt', 'Department of Chemistry', 'KI', 'KJEM',
        [['organisk kjemi', 'Organic Chemistry'], ['uorganisk kjemi', 'Inorganic Chemistry'], ['fysikalsk kjemi', 'Physical Chemistry'], ['petroleumskjemi', 'Petroleum Chemistry']]),
      dept('25', 'Institutt for biovitenskap', 'Department of Biological Sciences', 'BIO', 'BIO',
        [['økologi', 'Ecology'], ['molekylærbiologi', 'Molecular Biology'], ['marinbiologi', 'Marine Biology'], ['fiskehelse', 'Fish Health'], ['evolusjonsbiologi', 'Evolutionary Biology']], 3),
      dept('30', 'Institutt for geovitenskap', 'Department of Earth Science', 'GEO', 'GEOV',
        [['geologi', 'Geology'], ['geofysikk', 'Geophysics'], ['klimadynamikk', 'Climate Dynamics'], ['geokjemi', 'Geochemistry']]),
    ],
  },
  {
    code: '13', nb: 'Det medisinske fakultet', en: 'Faculty of Medicine', short: 'MED', academic: true, studentWeight: 13, employeeWeight: 18,
    departments: [
      dept('05', 'Klinisk institutt 1', 'Department of Clinical Medicine', 'K1', 'MED',
        [['indremedisin', 'Internal Medicine'], ['kirurgi', 'Surgery'], ['pediatri', 'Paediatrics'], ['øre-nese-hals', 'Otorhinolaryngology']]),
      dept('10', 'Institutt for biomedisin', 'Department of Biomedicine', 'IBM', 'BMED',
        [['fysiologi', 'Physiology'], ['cellebiologi', 'Cell Biology'], ['farmakologi', 'Pharmacology'], ['nevrovitenskap', 'Neuroscience']], 3),
      dept('15', 'Institutt for global helse og samfunnsmedisin', 'Department of Global Public Health and Primary Care', 'IGS', 'HELS',
        [['epidemiologi', 'Epidemiology'], ['global helse', 'Global Health'], ['allmennmedisin', 'General Practice'], ['helseøkonomi', 'Health Economics']]),
      dept('20', 'Institutt for klinisk odontologi', 'Department of Clinical Dentistry', 'IKO', 'ODO',
        [['kariologi', 'Cariology'], ['kjeveortopedi', 'Orthodontics'], ['oral kirurgi', 'Oral Surgery']], 1),
    ],
  },
  {
    code: '14', nb: 'Det samfunnsvitenskapelige fakultet', en: 'Faculty of Social Sciences', short: 'SV', academic: true, studentWeight: 21, employeeWeight: 12,
    departments: [
      dept('05', 'Institutt for økonomi', 'Department of Economics', 'ECON', 'ECON',
        [['mikroøkonomi', 'Microeconomics'], ['makroøkonomi', 'Macroeconomics'], ['økonometri', 'Econometrics'], ['miljøøkonomi', 'Environmental Economics'], ['spillteori', 'Game Theory']], 3),
      dept('10', 'Institutt for sammenliknende politikk', 'Department of Comparative Politics', 'SAMPOL', 'SAMPOL',
        [['europeisk politikk', 'European Politics'], ['valgforskning', 'Electoral Studies'], ['politisk teori', 'Political Theory'], ['internasjonal politikk', 'International Politics']]),
      dept('15', 'Institutt for sosiologi', 'Department of Sociology', 'SOS', 'SOS',
        [['sosiologisk teori', 'Sociological Theory'], ['kvantitativ metode', 'Quantitative Methods'], ['arbeidslivssosiologi', 'Sociology of Work'], ['migrasjon', 'Migration']]),
      dept('20', 'Institutt for geografi', 'Department of Geography', 'GEOG', 'GEO',
        [['samfunnsgeografi', 'Human Geography'], ['naturgeografi', 'Physical Geography'], ['geografiske informasjonssystemer', 'Geographic Information Systems']], 1),
      dept('25', 'Institutt for informasjons- og medievitenskap', 'Department of Information Science and Media Studies', 'INFOMEDIA', 'INFO',
        [['medievitenskap', 'Media Studies'], ['journalistikk', 'Journalism'], ['informasjonsvitenskap', 'Information Science'], ['interaksjonsdesign', 'Interaction Design']]),
    ],
  },
  {
    code: '15', nb: 'Det juridiske fakultet', en: 'Faculty of Law', short: 'JUS', academic: true, studentWeight: 12, employeeWeight: 6,
    departments: [
      dept('05', 'Institutt for privatrett', 'Department of Private Law', 'PRIV', 'JUS',
        [['avtalerett', 'Contract Law'], ['erstatningsrett', 'Tort Law'], ['familie- og arverett', 'Family and Inheritance Law'], ['selskapsrett', 'Company Law']]),
      dept('10', 'Institutt for offentlig rett', 'Department of Public Law', 'OFF', 'JUR',
        [['forvaltningsrett', 'Administrative Law'], ['strafferett', 'Criminal Law'], ['menneskerettigheter', 'Human Rights'], ['havrett', 'Law of the Sea']]),
    ],
  },
  {
    code: '16', nb: 'Det psykologiske fakultet', en: 'Faculty of Psychology', short: 'PSY', academic: true, studentWeight: 11, employeeWeight: 8,
    departments: [
      dept('05', 'Institutt for biologisk og medisinsk psykologi', 'Department of Biological and Medical Psychology', 'IBMP', 'PSYK',
        [['kognitiv nevrovitenskap', 'Cognitive Neuroscience'], ['biologisk psykologi', 'Biological Psychology'], ['helsepsykologi', 'Health Psychology']]),
      dept('10', 'Institutt for klinisk psykologi', 'Department of Clinical Psychology', 'IKP', 'KPSY',
        [['klinisk psykologi', 'Clinical Psychology'], ['psykoterapi', 'Psychotherapy'], ['barne- og ungdomspsykologi', 'Child and Adolescent Psychology']], 1),
      dept('15', 'Institutt for pedagogikk', 'Department of Education', 'IP', 'PED',
        [['pedagogikk', 'Education'], ['spesialpedagogikk', 'Special Education'], ['universitetspedagogikk', 'Higher Education Pedagogy']]),
    ],
  },
  {
    code: '17', nb: 'Fakultet for kunst, musikk og design', en: 'Faculty of Fine Art, Music and Design', short: 'KMD', academic: true, studentWeight: 5, employeeWeight: 5,
    departments: [
      dept('05', 'Griegakademiet – Institutt for musikk', 'The Grieg Academy – Department of Music', 'GRIEG', 'MUS',
        [['utøvende musikk', 'Music Performance'], ['komposisjon', 'Composition'], ['musikkterapi', 'Music Therapy']]),
      dept('10', 'Institutt for kunst', 'Department of Contemporary Art', 'KUNST', 'KUN',
        [['samtidskunst', 'Contemporary Art'], ['kunstteori', 'Art Theory']], 1),
      dept('15', 'Institutt for design', 'Department of Design', 'DESIGN', 'DES',
        [['visuell kommunikasjon', 'Visual Communication'], ['møbel- og romdesign', 'Furniture and Spatial Design']], 1),
    ],
  },
  {
    code: '22', nb: 'Universitetsledelsen og fellesadministrasjonen', en: 'University Management and Central Administration', short: 'ADM', academic: false, studentWeight: 0, employeeWeight: 15,
    departments: [
      { code: '05', nb: 'Rektoratet', en: "Rector's Office", short: 'REKT', subjects: [], groups: [] },
      { code: '10', nb: 'IT-avdelingen', en: 'IT Department', short: 'IT', subjects: [], groups: [['Seksjon for brukerstøtte', 'User Support Section', 'IT-BRUK'], ['Seksjon for identitets- og tilgangsstyring', 'Identity and Access Management Section', 'IT-IAM'], ['Seksjon for drift', 'Operations Section', 'IT-DRIFT']] },
      { code: '15', nb: 'HR-avdelingen', en: 'HR Department', short: 'HR', subjects: [], groups: [['Seksjon for lønn', 'Payroll Section', 'HR-LONN']] },
      { code: '20', nb: 'Studieavdelingen', en: 'Student Affairs Department', short: 'SA', subjects: [], groups: [['Seksjon for opptak', 'Admissions Section', 'SA-OPPT'], ['Seksjon for eksamen', 'Examinations Section', 'SA-EKS']] },
      { code: '25', nb: 'Økonomiavdelingen', en: 'Finance Department', short: 'ØKA', subjects: [], groups: [] },
      { code: '30', nb: 'Universitetsbiblioteket', en: 'University Library', short: 'UB', subjects: [], groups: [['Bibliotek for humaniora', 'Humanities Library', 'UB-HF'], ['Bibliotek for realfag', 'Science Library', 'UB-MN']] },
    ],
  },
];

/** The central administration: its faculty-level unit is the top of every management chain. */
export const CENTRAL_FACULTY = '22';

/** The AD OU name: ASCII, since OU names end up in DNs that older tools mangle. */
const adOu = (short: string) => ascii(short).replace(/[^A-Za-z0-9-]/g, '');

/** All org units, faculties first, then their departments, then groups — parents before children. */
export function orgUnits(): OrgUnit[] {
  const out: OrgUnit[] = [];
  for (const f of FACULTIES) {
    out.push({ stedkode: `${f.code}0000`, parentStedkode: null, level: 'faculty', nameNb: f.nb, nameEn: f.en, shortName: f.short, adOu: adOu(f.short) });
  }
  for (const f of FACULTIES) {
    for (const d of f.departments) {
      out.push({ stedkode: `${f.code}${d.code}00`, parentStedkode: `${f.code}0000`, level: 'department', nameNb: d.nb, nameEn: d.en, shortName: d.short, adOu: adOu(d.short) });
    }
  }
  for (const f of FACULTIES) {
    for (const d of f.departments) {
      d.groups.forEach(([nb, en, short], i) => {
        out.push({ stedkode: `${f.code}${d.code}${(i + 1) * 10}`, parentStedkode: `${f.code}${d.code}00`, level: 'group', nameNb: nb, nameEn: en, shortName: short, adOu: adOu(short) });
      });
    }
  }
  return out;
}

/** A department as the generator sees it: where it sits, what it teaches. */
export interface DepartmentInfo {
  stedkode: string;
  faculty: string;
  academic: boolean;
  prefix: string | undefined;
  subjects: readonly Subject[];
  groups: string[];
}

export function departments(): DepartmentInfo[] {
  return FACULTIES.flatMap((f) => f.departments.map((d) => ({
    stedkode: `${f.code}${d.code}00`,
    faculty: `${f.code}0000`,
    academic: f.academic,
    prefix: d.prefix,
    subjects: d.subjects,
    groups: d.groups.map((_, i) => `${f.code}${d.code}${(i + 1) * 10}`),
  })));
}
