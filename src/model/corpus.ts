/**
 * The training corpus: short lines of toddler talk, one utterance a line.
 *
 * Built deterministically from word classes, a small grammar of templates and a list of hand-written lines.
 * Telegraphic speech ("me want cookie"), "me" for "I", diminutives (doggy, blankie), reduplication (choo choo,
 * nom nom), questions, feelings and animal sounds.
 *
 * Three associations are kept strict so that a model can learn them and the evaluation can measure them: the word
 * "want" is always followed by a food or toy, "love" by a person and "see" by an animal, on every line.
 */
import { mulberry32 } from './weights.js';

export type WordClass =
  | 'foodsAndToys'
  | 'people'
  | 'animals'
  | 'sounds'
  | 'actions'
  | 'feelings'
  | 'qualities'
  | 'colors'
  | 'places'
  | 'bodyParts'
  | 'reduplications';

function frozen<T>(items: readonly T[]): readonly T[] {
  return Object.freeze([...items]);
}

/** The word classes of the corpus. No item is in two classes; items may be several words ("choo choo"). */
export const WORD_CLASSES: Readonly<Record<WordClass, readonly string[]>> = Object.freeze({
  foodsAndToys: frozen([
    'cookie',
    'milk',
    'juice',
    'nana',
    'apple',
    'ball',
    'blankie',
    'teddy',
    'truck',
    'choo choo',
    'cracker',
    'cheese',
    'yogurt',
    'binky',
    'bottle',
    'toast',
    'noodles',
    'grapes',
    'berries',
    'carrots',
    'candy',
    'cake',
    'ice cream',
    'pancake',
    'waffle',
    'pizza',
    'bubbles',
    'blocks',
    'dolly',
    'car',
    'boat',
    'balloon',
    'book',
    'crayons',
    'puzzle',
    'drum',
    'sippy cup',
    'water',
    'cereal',
    'popsicle',
    'train',
    'kite',
    'bike',
  ]),
  people: frozen([
    'mommy',
    'daddy',
    'mama',
    'dada',
    'grandma',
    'grandpa',
    'granny',
    'baby',
    'sissy',
    'bubba',
    'auntie',
    'uncle',
    'papa',
    'teacher',
  ]),
  animals: frozen([
    'doggy',
    'kitty',
    'birdie',
    'duckie',
    'cow',
    'piggy',
    'horsie',
    'fishy',
    'bunny',
    'froggy',
    'sheepy',
    'lion',
    'tiger',
    'monkey',
    'elephant',
    'owl',
    'bee',
    'mousie',
    'puppy',
    'kitten',
    'turtle',
    'giraffe',
    'snake',
    'goat',
  ]),
  sounds: frozen([
    'woof',
    'meow',
    'tweet',
    'quack',
    'moo',
    'oink',
    'neigh',
    'blub',
    'ribbit',
    'baa',
    'roar',
    'ooh',
    'toot',
    'hoo',
    'buzz',
    'squeak',
    'hiss',
    'maa',
  ]),
  actions: frozen([
    'run',
    'jump',
    'eat',
    'sleep',
    'play',
    'dance',
    'sing',
    'swim',
    'climb',
    'fall',
    'sit',
    'splash',
    'draw',
    'read',
    'kick',
    'hide',
    'walk',
    'spin',
    'hop',
    'clap',
    'color',
    'tickle',
  ]),
  feelings: frozen([
    'sad',
    'happy',
    'mad',
    'tired',
    'hungry',
    'sleepy',
    'scared',
    'silly',
    'cold',
    'hot',
    'grumpy',
    'sick',
    'full',
    'cranky',
    'thirsty',
    'okay',
  ]),
  qualities: frozen([
    'big',
    'little',
    'yummy',
    'yucky',
    'soft',
    'fast',
    'loud',
    'dirty',
    'wet',
    'stinky',
    'pretty',
    'funny',
    'heavy',
    'sticky',
  ]),
  colors: frozen(['red', 'blue', 'green', 'yellow', 'pink', 'purple']),
  places: frozen([
    'park',
    'store',
    'outside',
    'home',
    'bed',
    'bath',
    'potty',
    'beach',
    'zoo',
    'school',
    'upstairs',
    'downstairs',
    'pool',
    'farm',
    'swings',
    'slide',
  ]),
  bodyParts: frozen([
    'nose',
    'toes',
    'tummy',
    'ears',
    'eyes',
    'hands',
    'feet',
    'hair',
    'knee',
    'finger',
    'mouth',
    'head',
    'belly',
    'chin',
    'cheeks',
  ]),
  reduplications: frozen([
    'nom nom',
    'night night',
    'bye bye',
    'uh oh',
    'yum yum',
    'vroom vroom',
    'beep beep',
    'boo boo',
    'no no',
    'peek a boo',
    'uppy uppy',
    'hop hop',
    'all done',
  ]),
});

/** Each animal's sound, for the animals that have one. */
export const ANIMAL_SOUNDS: Readonly<Record<string, string>> = Object.freeze({
  doggy: 'woof',
  puppy: 'woof',
  kitty: 'meow',
  kitten: 'meow',
  birdie: 'tweet',
  duckie: 'quack',
  cow: 'moo',
  piggy: 'oink',
  horsie: 'neigh',
  fishy: 'blub',
  froggy: 'ribbit',
  sheepy: 'baa',
  goat: 'maa',
  lion: 'roar',
  tiger: 'roar',
  monkey: 'ooh',
  elephant: 'toot',
  owl: 'hoo',
  bee: 'buzz',
  mousie: 'squeak',
  snake: 'hiss',
});

/** Lines written by hand, each used once. */
export const HANDWRITTEN_LINES: readonly string[] = Object.freeze([
  'uh oh',
  'uh oh!',
  'no nap!',
  'no nap, no no!',
  'me do it!',
  'me do it self',
  'me did it!',
  'up up!',
  'uppy uppy!',
  'hug hug',
  'me big girl',
  'me big boy',
  'me big now',
  'peek a boo!',
  'all done!',
  'all done now',
  'more please',
  'more more!',
  'me no like it',
  'that mine!',
  'dat mine!',
  'me sowwy',
  'me not tired!',
  'me not sleepy!',
  'bath time!',
  'me hide, find me!',
  'where go?',
  'what dat?',
  'what dat noise?',
  'why, mommy?',
  'why why why?',
  'me hold it',
  'dat yucky',
  'night night',
  'bye bye',
  'bye bye, all gone',
  'me go potty',
  'me go potty now!',
  'oopsie daisy',
  'me fall down',
  'owie! owie!',
  'kiss it better',
  'sing again!',
  'again! again!',
  'me fast!',
  'me so strong',
  'wheee! again!',
  'boom! fall down',
  'me help!',
  'me help too',
  'me push button',
  'me turn it',
  'it broke. uh oh',
  'it stuck!',
  'me stuck!',
  'open it!',
  'open pwease',
  'me open it',
  'close door!',
  'shoes on!',
  'shoes off!',
  'no shoes!',
  'hat on',
  'me got hat',
  'me got socks',
  'socks off!',
  'coat on, go outside',
  'me cold, coat on',
  'it raining!',
  'rain rain!',
  'sun up!',
  'moon! moon!',
  'hi moon!',
  'night night moon',
  'star! star!',
  'twinkle twinkle',
  'me sing song',
  'sing song, daddy',
  'read book, mommy',
  'one more book',
  'one more!',
  'one, two, three!',
  'one, two, jump!',
  'me two!',
  'me three now',
  'me count: one, two',
  'happy birthday!',
  'me birthday!',
  'cake! cake! cake!',
  'me no nap today',
  'nap time? no!',
  'me not baby!',
  'me big kid',
  'hold hand',
  'hold me!',
  'pick me up!',
  'carry me',
  'me tired, carry me',
  'me go too!',
  'wait for me!',
  'me first!',
  'my turn!',
  'my turn now',
  'your turn',
  'share? okay',
  'okay, mommy',
  'okay, daddy',
  'yes yes yes!',
  'no no no!',
  'no! no! no!',
  'me no go!',
  'stop it!',
  'me stop',
  'go go go!',
  'ready, set, go!',
  'me ready!',
  'all gone!',
  'all gone?',
  'where it go?',
  'there it is!',
  'found it!',
  'me find it!',
  'lookit, mommy!',
  'look look!',
  'look at me!',
  'watch me!',
  'me dance!',
  'me dance, daddy!',
  'so funny!',
  'dat funny',
  'me laugh',
  'hee hee!',
  'ha ha ha!',
  'tickle tickle!',
  'no tickle!',
  'me brush teeth',
  'teeth all clean',
  'me wash hands',
  'hands all wet',
  'splash splash!',
  'bubbles in bath!',
  'me pee pee',
  'me poo poo',
  'stinky diaper!',
  'me clean up',
  'uh oh, big mess',
  'me make mess',
  'me sorry, mommy',
  'bless you!',
  'achoo! achoo!',
  'me sneeze!',
  'shhh, baby sleep',
  'quiet, baby sleep',
  'me whisper',
  'me loud!',
  'too loud!',
  'it dark',
  'me scared of dark',
  'light on, pwease',
  'light off!',
  'light on!',
  'door open',
  'knock knock!',
  'who dat?',
  'who there?',
  'me here!',
  'here me!',
  'me hiding!',
  'you find me!',
  'thank you!',
  'tank you',
  'pwease and tank you',
  'hi! hi! hi!',
  'hello hello!',
  'bye! bye!',
  'me wave bye',
  'me go night night',
  'me go sleep now',
  'me wake up!',
  'me up! me up!',
  'morning, daddy!',
  'good morning, mommy',
  'me had bad dream',
  'me cry',
  'me no cry',
  'no cry, baby',
  'me brave!',
  'me good boy',
  'me good girl',
  'me a helper',
  'me so big!',
  'dis one!',
  'dat one!',
  'not dat one!',
  'me pick',
  'me choose dis',
]);

export type Rng = () => number;

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('corpus: pick from an empty list');
  return item;
}

/** Two different items. */
function pickTwo<T>(rng: Rng, items: readonly T[]): [T, T] {
  const a = pick(rng, items);
  let b = pick(rng, items);
  while (b === a) b = pick(rng, items);
  return [a, b];
}

type Template = readonly [weight: number, make: (rng: Rng) => string];

const C = WORD_CLASSES;
const SOUNDING_ANIMALS = C.animals.filter((a) => ANIMAL_SOUNDS[a] !== undefined);
const VEHICLES = ['truck', 'car', 'choo choo', 'train', 'boat', 'bike'] as const;
const EDIBLES = [
  'cookie',
  'milk',
  'juice',
  'nana',
  'apple',
  'cracker',
  'cheese',
  'yogurt',
  'toast',
  'noodles',
  'grapes',
  'berries',
  'carrots',
  'candy',
  'cake',
  'ice cream',
  'pancake',
  'waffle',
  'pizza',
  'water',
  'cereal',
  'popsicle',
] as const;
const NUMBERS = ['one', 'two', 'three', '2', '3'] as const;
const PLEASE = ['please', 'pwease'] as const;

const f = (r: Rng) => pick(r, C.foodsAndToys);
const p = (r: Rng) => pick(r, C.people);
const a = (r: Rng) => pick(r, C.animals);
const act = (r: Rng) => pick(r, C.actions);
const feel = (r: Rng) => pick(r, C.feelings);
const qual = (r: Rng) => pick(r, C.qualities);
const col = (r: Rng) => pick(r, C.colors);
const place = (r: Rng) => pick(r, C.places);
const body = (r: Rng) => pick(r, C.bodyParts);
const food = (r: Rng) => pick(r, EDIBLES);
const sounding = (r: Rng): [string, string] => {
  const animal = pick(r, SOUNDING_ANIMALS);
  return [animal, ANIMAL_SOUNDS[animal]!];
};

/** The grammar: weighted templates. */
const TEMPLATES: readonly Template[] = [
  // "want" + food or toy
  [3, (r) => `me want ${f(r)}`],
  [2, (r) => `me want ${f(r)}!`],
  [1, (r) => `me want ${f(r)} now`],
  [1, (r) => `me want ${f(r)} ${pick(r, PLEASE)}`],
  [1, (r) => `me want ${f(r)}, ${p(r)}`],
  [1, (r) => `${p(r)}, me want ${f(r)}`],
  [
    1,
    (r) => {
      const [x, y] = pickTwo(r, C.foodsAndToys);
      return `me want ${x} and ${y}`;
    },
  ],
  [0.7, (r) => `me hungry. me want ${food(r)}`],
  [
    0.7,
    (r) => {
      const [x, y] = pickTwo(r, C.foodsAndToys);
      return `no ${x}! me want ${y}!`;
    },
  ],
  [0.5, (r) => `me want ${f(r)} too`],
  [0.5, (r) => `me want ${f(r)} again`],
  [0.5, (r) => `me no want ${f(r)}`],
  [0.5, (r) => `baby want ${f(r)}`],
  [0.5, (r) => `${a(r)} want ${food(r)}`],
  [
    0.4,
    (r) => {
      const x = f(r);
      return `me want ${x}, me want ${x}!`;
    },
  ],
  // "love" + person
  [2.5, (r) => `me love ${p(r)}`],
  [1.5, (r) => `me love ${p(r)}!`],
  [0.7, (r) => `me love ${p(r)} so much`],
  [
    0.7,
    (r) => {
      const [x, y] = pickTwo(r, C.people);
      return `me love ${x} and ${y}`;
    },
  ],
  [0.5, (r) => `me love ${p(r)} too`],
  [0.5, (r) => `me love ${p(r)} lots`],
  [
    0.5,
    (r) => {
      const x = p(r);
      return `me hug ${x}. me love ${x}`;
    },
  ],
  [
    0.5,
    (r) => {
      const x = p(r);
      return `night night ${x}. me love ${x}`;
    },
  ],
  [0.4, (r) => `me love ${p(r)} big big`],
  [
    0.5,
    (r) => {
      const [x, y] = pickTwo(r, C.people);
      return `${x} love ${y}`;
    },
  ],
  [0.5, (r) => `me love ${p(r)} so so much`],
  [0.5, (r) => `me love ${p(r)}, night night`],
  [0.5, (r) => `me love ${p(r)}. kiss kiss!`],
  [0.5, (r) => `aww, me love ${p(r)}`],
  [0.5, (r) => `me love ${p(r)} all day`],
  [0.5, (r) => `me love ${p(r)} the most`],
  [
    0.5,
    (r) => {
      const [x, y] = pickTwo(r, C.people);
      return `me love ${x}, ${y}`;
    },
  ],
  [0.5, (r) => `me ${feel(r)}. me love ${p(r)}`],
  [0.5, (r) => `me love ${p(r)}. ${p(r)} ${qual(r)}`],
  [
    0.5,
    (r) => {
      const [x, y] = pickTwo(r, C.people);
      return `me love ${x}, me love ${y}`;
    },
  ],
  [0.4, (r) => `${p(r)}! me love ${p(r)}!`],
  // "see" + animal
  [2.5, (r) => `me see ${a(r)}`],
  [1.5, (r) => `me see ${a(r)}!`],
  [0.7, (r) => `look! me see ${a(r)}`],
  [0.6, (r) => `me see ${a(r)} outside`],
  [0.7, (r) => `me see ${a(r)} at ${place(r)}`],
  [
    0.6,
    (r) => {
      const [x, y] = pickTwo(r, C.animals);
      return `me see ${x} and ${y}`;
    },
  ],
  [0.6, (r) => `${p(r)}, me see ${a(r)}!`],
  [
    0.8,
    (r) => {
      const [x, s] = sounding(r);
      return `me see ${x}! ${x} say ${s}`;
    },
  ],
  [
    0.5,
    (r) => {
      const [x, s] = sounding(r);
      return `me see ${x} go ${s} ${s}`;
    },
  ],
  [0.5, (r) => `${p(r)} see ${a(r)}`],
  [0.5, (r) => `me see ${a(r)} in ${place(r)}`],
  [0.5, (r) => `me see ${a(r)} with ${p(r)}`],
  [0.5, (r) => `me see ${a(r)}. ${a(r)} ${qual(r)}!`],
  [0.5, (r) => `me see ${a(r)}, ${p(r)}!`],
  [0.4, (r) => `me see ${a(r)} ${act(r)}`],
  [0.4, (r) => `wow, me see ${a(r)}!`],
  [0.4, (r) => `me see ${a(r)}. so ${qual(r)}!`],
  // animal sounds
  [
    1.2,
    (r) => {
      const [x, s] = sounding(r);
      return `${x} say ${s}`;
    },
  ],
  [
    0.8,
    (r) => {
      const [x, s] = sounding(r);
      return `${x} say ${s} ${s}`;
    },
  ],
  [
    0.8,
    (r) => {
      const [x, s] = sounding(r);
      return `${x} go ${s}`;
    },
  ],
  [
    0.6,
    (r) => {
      const [x, s] = sounding(r);
      return `what ${x} say? ${s}!`;
    },
  ],
  [
    0.5,
    (r) => {
      const [x, s] = sounding(r);
      return `${s} ${s}! ${x}!`;
    },
  ],
  [
    0.5,
    (r) => {
      const [x, s] = sounding(r);
      return `${x} say ${s} to ${p(r)}`;
    },
  ],
  [
    0.4,
    (r) => {
      const [x, s] = sounding(r);
      return `${qual(r)} ${x} go ${s}`;
    },
  ],
  [
    0.4,
    (r) => {
      const [x, s] = sounding(r);
      return `dat ${x}? ${s}!`;
    },
  ],
  [
    0.4,
    (r) => {
      const [x, s] = sounding(r);
      return `${p(r)}, ${x} say ${s}!`;
    },
  ],
  // where
  [0.8, (r) => `where ${f(r)} go?`],
  [0.6, (r) => `where ${p(r)}?`],
  [0.6, (r) => `where ${a(r)} go?`],
  [0.5, (r) => `where ${p(r)} go?`],
  [0.6, (r) => `where my ${f(r)}?`],
  [0.4, (r) => `${f(r)} where?`],
  [
    0.5,
    (r) => {
      const x = a(r);
      return `where ${x}? there ${x}!`;
    },
  ],
  [0.5, (r) => `where ${p(r)} ${body(r)}?`],
  [0.4, (r) => `${p(r)} go ${place(r)}?`],
  // no
  [0.8, (r) => `no ${f(r)}!`],
  [0.5, (r) => `no ${act(r)}!`],
  [0.4, (r) => `no no ${p(r)}!`],
  [0.5, (r) => `no ${place(r)}!`],
  [0.4, (r) => `no nap, ${p(r)}!`],
  [0.5, (r) => `me no ${act(r)}`],
  [0.6, (r) => `me no like ${food(r)}`],
  [0.4, (r) => `${food(r)} no yummy`],
  // feelings
  [1, (r) => `me ${feel(r)}`],
  [0.7, (r) => `me so ${feel(r)}`],
  [0.5, (r) => `me ${feel(r)}, ${p(r)}`],
  [0.5, (r) => `${p(r)} ${feel(r)}?`],
  [0.5, (r) => `${a(r)} ${feel(r)}`],
  [0.5, (r) => `me ${feel(r)}. want ${f(r)}`],
  [0.5, (r) => `me not ${feel(r)}!`],
  [0.5, (r) => `why ${p(r)} ${feel(r)}?`],
  [
    0.4,
    (r) => {
      const [x, y] = pickTwo(r, C.feelings);
      return `me ${x} and ${y}`;
    },
  ],
  [0.4, (r) => `me ${feel(r)}, need hug`],
  [
    0.4,
    (r) => {
      const x = p(r);
      return `${x} ${feel(r)}. me hug ${x}`;
    },
  ],
  // actions and places
  [0.8, (r) => `me ${act(r)}`],
  [0.6, (r) => `me ${act(r)}!`],
  [0.4, (r) => `me ${act(r)} too`],
  [0.5, (r) => `${p(r)} ${act(r)}`],
  [0.5, (r) => `${a(r)} ${act(r)}`],
  [0.6, (r) => `me ${act(r)} with ${p(r)}`],
  [0.5, (r) => `${p(r)} ${act(r)} with me?`],
  [0.8, (r) => `me go ${place(r)}`],
  [0.5, (r) => `me no go ${place(r)}!`],
  [0.5, (r) => `go ${place(r)} now?`],
  [0.6, (r) => `${p(r)} go ${place(r)}`],
  [0.4, (r) => `me ${act(r)} fast`],
  [0.5, (r) => `look ${p(r)}, me ${act(r)}!`],
  [0.5, (r) => `watch me ${act(r)}!`],
  [0.4, (r) => `${a(r)} ${act(r)} in ${place(r)}`],
  [0.4, (r) => `me ${act(r)} at ${place(r)}`],
  [0.4, (r) => `${p(r)} take me ${place(r)}`],
  // body parts
  [0.5, (r) => `me got owie on ${body(r)}`],
  [0.5, (r) => `${body(r)} hurt`],
  [0.4, (r) => `boo boo on ${body(r)}`],
  [0.4, (r) => `kiss ${body(r)}, ${p(r)}`],
  [0.4, (r) => `where ${a(r)} ${body(r)}?`],
  [0.4, (r) => `${a(r)} got big ${body(r)}`],
  [0.4, (r) => `me touch ${a(r)} ${body(r)}`],
  [0.4, (r) => `tickle my ${body(r)}!`],
  [0.4, (r) => `me wash ${body(r)}`],
  [0.4, (r) => `dis ${p(r)} ${body(r)}`],
  [0.3, (r) => `${body(r)} ${qual(r)}`],
  // reduplications
  [0.6, (r) => `nom nom ${food(r)}`],
  [0.5, (r) => `yum yum ${food(r)}!`],
  [0.5, (r) => `bye bye ${p(r)}`],
  [0.5, (r) => `bye bye ${a(r)}`],
  [0.5, (r) => `night night ${a(r)}`],
  [0.5, (r) => `night night ${p(r)}`],
  [0.5, (r) => `uh oh, ${f(r)} fall`],
  [0.5, (r) => `uh oh! ${food(r)} all gone`],
  [0.5, (r) => `vroom vroom, ${pick(r, VEHICLES)} go fast`],
  [0.4, (r) => `beep beep! ${pick(r, VEHICLES)} go`],
  [0.3, (r) => `choo choo go ${place(r)}`],
  [0.5, (r) => `peek a boo ${p(r)}!`],
  [0.3, (r) => `${a(r)} go hop hop`],
  [0.3, (r) => `uppy uppy, ${p(r)}!`],
  [0.3, (r) => `all done ${food(r)}`],
  // mine, more, things
  [0.5, (r) => `mine ${f(r)}!`],
  [0.5, (r) => `${f(r)} mine!`],
  [0.4, (r) => `dat ${f(r)} mine!`],
  [0.6, (r) => `more ${food(r)}`],
  [0.5, (r) => `more ${food(r)} ${pick(r, PLEASE)}`],
  [0.5, (r) => `${food(r)} all gone`],
  [0.6, (r) => `${f(r)} ${qual(r)}`],
  [0.5, (r) => `${qual(r)} ${f(r)}!`],
  [0.5, (r) => `look, ${col(r)} ${f(r)}!`],
  [0.5, (r) => `me got ${col(r)} ${f(r)}`],
  [0.4, (r) => `me got ${pick(r, NUMBERS)} ${f(r)}`],
  [0.5, (r) => `${p(r)} got ${f(r)}`],
  [0.5, (r) => `me give ${p(r)} ${f(r)}`],
  [0.5, (r) => `${p(r)} give me ${f(r)}`],
  [0.4, (r) => `me share ${f(r)} with ${p(r)}`],
  [0.4, (r) => `me hold ${f(r)}`],
  [0.5, (r) => `me eat ${food(r)}`],
  [0.4, (r) => `${a(r)} eat ${food(r)}!`],
  [0.4, (r) => `me drop ${f(r)}. uh oh`],
  [0.4, (r) => `me throw ${f(r)}`],
  [0.4, (r) => `me find ${f(r)}!`],
  [0.4, (r) => `me play ${f(r)}`],
  [0.3, (r) => `${f(r)} in ${place(r)}`],
  // greetings and questions
  [0.5, (r) => `hi ${p(r)}!`],
  [0.5, (r) => `hi ${a(r)}!`],
  [0.4, (r) => `hi ${p(r)}, me ${feel(r)}`],
  [0.3, (r) => `bye ${p(r)}`],
  [0.3, (r) => `hello ${a(r)}`],
  [0.4, (r) => `what dat, ${p(r)}?`],
  [0.5, (r) => `is dat ${f(r)}?`],
  [0.5, (r) => `is dat ${a(r)}?`],
  [0.4, (r) => `${f(r)} for me?`],
  [0.4, (r) => `${p(r)} come play?`],
  [0.4, (r) => `can me have ${f(r)}?`],
  [0.4, (r) => `me go ${place(r)} too?`],
  [0.3, (r) => `${p(r)} where go?`],
  [0.3, (r) => `who dat? ${p(r)}!`],
  [0.3, (r) => `${p(r)}, where ${f(r)}?`],
  // animals
  [0.4, (r) => `nice ${a(r)}`],
  [0.4, (r) => `${a(r)} so soft`],
  [0.4, (r) => `${a(r)} lick me!`],
  [0.4, (r) => `me pet ${a(r)}`],
  [0.4, (r) => `me hug ${a(r)}`],
  [0.4, (r) => `${a(r)} ${qual(r)}`],
  [0.3, (r) => `${a(r)} run fast`],
  [0.3, (r) => `${col(r)} ${a(r)}!`],
  [0.3, (r) => `${a(r)} and ${a(r)} play`],
];

/** The words of a text: split on anything but letters, digits and apostrophes; outer apostrophes stripped. */
export function wordsOf(text: string): string[] {
  const out: string[] = [];
  for (const token of text.toLowerCase().split(/[^a-z0-9']+/)) {
    const word = token.replace(/^'+|'+$/g, '');
    if (word.length > 0) out.push(word);
  }
  return out;
}

/** True when `text` starts with one of the items (each one or more words) followed by a word boundary. */
export function startsWithItem(text: string, items: readonly string[]): boolean {
  return items.some((item) => text.startsWith(item) && !/^[a-z0-9']/.test(text.slice(item.length)));
}

export const MIN_WORDS = 2;
export const MAX_WORDS = 8;
/** Distinct lines the builder aims for (hand-written lines included). */
export const TARGET_LINES = 4500;

/**
 * The corpus: `TARGET_LINES` distinct lines of toddler talk in a shuffled order, the same for the same seed.
 * Throws if a template ever yields a line that is not normalised or not 2–8 words (a bug in the grammar).
 */
export function buildCorpus(seed = 1): string[] {
  const rng = mulberry32(seed);
  const totalWeight = TEMPLATES.reduce((sum, [w]) => sum + w, 0);
  const seen = new Set<string>(HANDWRITTEN_LINES);
  const lines = [...seen];
  const maxAttempts = TARGET_LINES * 50;
  for (let attempt = 0; attempt < maxAttempts && lines.length < TARGET_LINES; attempt++) {
    let x = rng() * totalWeight;
    let make = TEMPLATES[TEMPLATES.length - 1]![1];
    for (const [w, m] of TEMPLATES) {
      x -= w;
      if (x < 0) {
        make = m;
        break;
      }
    }
    const line = make(rng);
    if (seen.has(line)) continue;
    seen.add(line);
    lines.push(line);
  }
  if (lines.length < TARGET_LINES)
    throw new Error(`corpus: only ${lines.length} distinct lines after ${maxAttempts} attempts`);
  for (const line of lines) checkLine(line);
  // Fisher–Yates shuffle, so that hand-written lines and templates are interleaved.
  for (let i = lines.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  return lines;
}

const LINE_PATTERN = /^[a-z0-9.,!?':;() -]+$/;

function checkLine(line: string): void {
  const words = wordsOf(line).length;
  if (!LINE_PATTERN.test(line) || line !== line.trim() || / {2}/.test(line) || words < MIN_WORDS || words > MAX_WORDS) {
    throw new Error(`corpus: bad line ${JSON.stringify(line)}`);
  }
}

/** The corpus text as written to data/corpus.txt: lines joined with newlines, ending with a newline. */
export function corpusText(lines: readonly string[]): string {
  return lines.join('\n') + '\n';
}

/** The set of words used in the lines (see `wordsOf`). */
export function corpusWords(lines: readonly string[]): Set<string> {
  const words = new Set<string>();
  for (const line of lines) for (const w of wordsOf(line)) words.add(w);
  return words;
}

/** FNV-1a over the UTF-16 code units of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Deterministic split: a line is held out when a draw seeded by its hash (and `seed`) falls below `fraction`.
 * Depends only on each line's text, so equal lines land on the same side and the split survives reordering.
 */
export function splitHeldOut(
  lines: readonly string[],
  fraction = 0.1,
  seed = 7,
): { train: string[]; heldOut: string[] } {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`splitHeldOut: fraction ${fraction} is not in 0..1`);
  const train: string[] = [];
  const heldOut: string[] = [];
  const salt = Math.imul(seed >>> 0, 0x9e3779b1);
  for (const line of lines) {
    const draw = mulberry32((fnv1a(line) ^ salt) >>> 0)();
    (draw < fraction ? heldOut : train).push(line);
  }
  return { train, heldOut };
}
