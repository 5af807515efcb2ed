import { describe, expect, it } from 'vitest';
import { errorMessage } from '../src/error-message.js';

describe('errorMessage', () => {
  it("gives an Error's message and anything else thrown as a string", () => {
    expect(errorMessage(new RangeError('too big'))).toBe('too big');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
