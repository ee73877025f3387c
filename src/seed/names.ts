/**
 * Name pools for the sample university: common Norwegian names (with æ, ø and å where Norwegians
 * write them), plus names of the larger immigrant groups, as a Norwegian campus has them.
 */

export const FEMALE_GIVEN_NAMES: readonly string[] = [
  'Anne', 'Inger', 'Kari', 'Marit', 'Ingrid', 'Liv', 'Eva', 'Berit', 'Astrid', 'Bjørg', 'Hilde', 'Anna',
  'Solveig', 'Marianne', 'Randi', 'Ida', 'Nina', 'Maria', 'Elisabeth', 'Kristin', 'Tone', 'Silje', 'Hanne',
  'Ragnhild', 'Sigrid', 'Nora', 'Emma', 'Sofie', 'Thea', 'Ingeborg', 'Åse', 'Åshild', 'Gøril', 'Sølvi',
  'Frøydis', 'Torunn', 'Grethe', 'Mari', 'Maja', 'Ella', 'Live', 'Vilde', 'Tiril', 'Synnøve', 'Bodil',
  'Kjærsti', 'Møyfrid', 'Jorunn', 'Gunnhild', 'Aud', 'Turid', 'Unni', 'Linn', 'Helene',
  'Amalie', 'Hedda', 'Eline', 'Malin', 'Oda', 'Aisha', 'Fatima', 'Agnieszka', 'Linh', 'Sara', 'Hanna',
];

export const MALE_GIVEN_NAMES: readonly string[] = [
  'Jan', 'Per', 'Bjørn', 'Ole', 'Lars', 'Kjell', 'Knut', 'Arne', 'Svein', 'Hans', 'Geir', 'Tor', 'Terje',
  'Morten', 'Odd', 'Rune', 'Trond', 'Erik', 'Jon', 'Einar', 'Øystein', 'Håkon', 'Pål', 'Bård', 'Jørgen',
  'Sindre', 'Magnus', 'Eirik', 'Sverre', 'Ørjan', 'Tormod', 'Torbjørn', 'Kjetil', 'Ådne', 'Ståle', 'Aksel', 'Henrik',
  'Mathias', 'Tobias', 'Filip', 'Sigurd', 'Halvor', 'Øyvind', 'Asbjørn', 'Gaute', 'Steinar', 'Dag',
  'Ivar', 'Vegard', 'Stian', 'Espen', 'Åsmund', 'Jørund', 'Nikolai', 'Emil', 'Jakob', 'Sander',
  'Mohammed', 'Ali', 'Ahmed', 'Piotr', 'Tomasz', 'Minh', 'Omar', 'Yonas',
];

// The most common surnames first (they are drawn more often), then rarer, more local ones.
export const SURNAMES: readonly string[] = [
  'Hansen', 'Johansen', 'Olsen', 'Larsen', 'Andersen', 'Pedersen', 'Nilsen', 'Kristiansen', 'Jensen',
  'Karlsen', 'Johnsen', 'Pettersen', 'Eriksen', 'Berg', 'Haugen', 'Hagen', 'Johannessen', 'Andreassen',
  'Jacobsen', 'Dahl', 'Jørgensen', 'Halvorsen', 'Henriksen', 'Lund', 'Sørensen', 'Jakobsen', 'Moen',
  'Gundersen', 'Iversen', 'Strand', 'Solberg', 'Svendsen', 'Eide', 'Knutsen', 'Martinsen', 'Paulsen',
  'Bakken', 'Kristoffersen', 'Mathisen', 'Lie', 'Amundsen', 'Nguyen', 'Rasmussen', 'Ali', 'Lunde',
  'Solheim', 'Berge', 'Moe', 'Nygård', 'Bakke', 'Kristensen', 'Fredriksen', 'Holm', 'Lien', 'Hauge',
  'Christensen', 'Andresen', 'Nielsen', 'Knudsen', 'Evensen', 'Sæther', 'Aas', 'Myhre', 'Hanssen',
  'Ødegård', 'Aasen', 'Hovland', 'Brekke', 'Thorsen', 'Mikkelsen', 'Sandvik', 'Tveit', 'Ødegaard', 'Næss',
  'Bjørnstad', 'Søvik', 'Rønning', 'Græsdal', 'Åsheim', 'Øverland', 'Skår', 'Vågen', 'Løvås', 'Fløysvik',
  'Bjørke', 'Håland', 'Strømme', 'Sæle', 'Kvåle', 'Aarø', 'Mæland', 'Økland', 'Årdal', 'Fjæra',
  'Ahmed', 'Hussain', 'Khan', 'Mohamed', 'Kowalski', 'Nowak', 'Tran', 'Haile',
];

/** Transliteration for mail addresses and other ASCII-only identifiers. */
export function ascii(s: string): string {
  return s
    .replace(/æ/g, 'ae').replace(/Æ/g, 'Ae')
    .replace(/ø/g, 'o').replace(/Ø/g, 'O')
    .replace(/å/g, 'aa').replace(/Å/g, 'Aa')
    .normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}
