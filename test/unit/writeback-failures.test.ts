import { ConfluentSchemaRegistryArgumentError } from '@kafkajs/confluent-schema-registry/dist/errors.js';
import { BusyError, ConstraintViolationError, InsufficientAccessError, InvalidSyntaxError, NoSuchObjectError, ObjectClassViolationError, UnavailableError } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { DirectoryError, DirectoryUnavailableError } from '../../src/directory/client.js';
import { directoryFailure } from '../../src/consumers/writeback.js';
import { isRegistryUnreachable } from '../../src/schemas/codec.js';

const responseError = (status: number, message: string) => Object.assign(new Error(message), { name: 'ResponseError', status });

describe('writeback: poison or wait', () => {
  it.each([
    ['bytes not in the wire format', new ConfluentSchemaRegistryArgumentError('Message encoded with magic byte [104], expected [0]'), false],
    ['a schema id the registry does not know', responseError(404, 'Confluent_Schema_Registry - No content with id/hash \'contentId-999999\' was found.'), false],
    ['a body too short for its schema', new RangeError('Attempt to access memory outside buffer bounds'), false],
    ['the registry refusing connections (the client says 400)', responseError(400, 'Confluent_Schema_Registry - Error, status 400: connect ECONNREFUSED 127.0.0.1:18081'), true],
    ['the registry failing', responseError(503, 'Service Unavailable'), true],
    ['the registry rate limiting', responseError(429, 'Too Many Requests'), true],
    ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
  ])('a decode failure from %s: registry unreachable = %s', (_what, err, unreachable) => {
    expect(isRegistryUnreachable(err)).toBe(unreachable);
  });

  it.each([
    ['an invalid value', new InvalidSyntaxError('tilgangProvisionedTo: value #0 invalid per syntax'), 'poison'],
    ['a constraint', new ConstraintViolationError(), 'poison'],
    ['an object class violation', new ObjectClassViolationError(), 'poison'],
    ['two entries with one id', new DirectoryError('more than one directory entry has idautoID=x'), 'poison'],
    ['a busy server', new BusyError(), 'transient'],
    ['an unavailable server', new UnavailableError(), 'transient'],
    ['a lost bind (no rights)', new InsufficientAccessError(), 'transient'],
    ['an entry out of sight (unbound after a reconnect)', new NoSuchObjectError(), 'transient'],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3389'), { code: 'ECONNREFUSED' }), 'transient'],
    ['a closed connection', new Error('Connection closed'), 'transient'],
    ['a directory that did not answer in time', new DirectoryUnavailableError('searching people: the directory did not answer within 5000 ms', 'ETIMEDOUT'), 'transient'],
    ['a directory that cannot be reached', new DirectoryUnavailableError('writing the provisioning status: cannot reach the directory (ECONNREFUSED)'), 'transient'],
  ])('a directory failure from %s is %s', (_what, err, kind) => {
    expect(directoryFailure(err)).toBe(kind);
  });
});
