import { ConstraintViolationError, InsufficientAccessError } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { TerminalError, TransientError } from '../../spi/index.js';
import { adError } from './client.js';

describe('adError', () => {
  it('takes a request the DC did not answer in time as transient: the write may have happened, so it is read again', () => {
    // ldapts's words when its timeout passes.
    const e = adError(new Error('AddRequest: Operation timed out'), 'p1', 'create CN=x');
    expect(e).toBeInstanceOf(TransientError);
    expect(e.message).toBe('person p1, target ad: create CN=x: AddRequest: Operation timed out');
  });

  it('keeps what AD refused terminal, naming the attribute', () => {
    const weak = adError(new ConstraintViolationError('0000052D: Constraint violation - check_password_restrictions'), 'p1', 'create CN=x');
    expect(weak).toBeInstanceOf(TerminalError);
    expect((weak as TerminalError).code).toBe('password-too-weak');
    const denied = adError(new InsufficientAccessError('00002098: SecErr'), 'p1', 'modify CN=x', 'title');
    expect(denied).toBeInstanceOf(TerminalError);
  });
});
