import { Collection, EntitySchema } from '@mikro-orm/core';

/** The seed article's polls app, with app-generated UUID keys so that many sources never collide. */
export class Question {
  id!: string;
  questionText!: string;
  pubDate!: Date;
  choices = new Collection<Choice>(this);
  tags = new Collection<Tag>(this);
}

export class Choice {
  id!: string;
  question!: Question;
  choiceText!: string;
  votes = 0;
}

export class Tag {
  id!: string;
  label!: string;
  questions = new Collection<Question>(this);
}

export const QuestionSchema = new EntitySchema<Question>({
  class: Question,
  properties: {
    id: { type: 'uuid', primary: true },
    questionText: { type: 'string', length: 200 },
    pubDate: { type: 'Date' }, // not 'datetime': MikroORM 6.6.16 on SQLite rewrites such a column on every flush of a loaded entity
    choices: {
      kind: '1:m',
      entity: () => Choice,
      mappedBy: 'question',
      cascade: ['persist', 'remove'] as never,
      orphanRemoval: true,
    },
    tags: { kind: 'm:n', entity: () => Tag, owner: true, inversedBy: 'questions' },
  },
});

export const ChoiceSchema = new EntitySchema<Choice>({
  class: Choice,
  properties: {
    id: { type: 'uuid', primary: true },
    question: { kind: 'm:1', entity: () => Question },
    choiceText: { type: 'string', length: 200 },
    votes: { type: 'integer', default: 0 },
  },
});

export const TagSchema = new EntitySchema<Tag>({
  class: Tag,
  properties: {
    id: { type: 'uuid', primary: true },
    label: { type: 'string', length: 64 },
    questions: { kind: 'm:n', entity: () => Question, mappedBy: 'tags' },
  },
});

export const pollsEntities = [QuestionSchema, ChoiceSchema, TagSchema];

/** For `--entities`: the consumer and the sidecar producer load the app's entities from this module. */
export const entities = pollsEntities;
