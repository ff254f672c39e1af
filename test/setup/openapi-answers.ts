/**
 * Fails a test when an answer sent in its course (by a gateway of test/helpers/app.ts) is not
 * described by the OpenAPI document: an undocumented status, header or field (contract §9).
 */
import { takeAnswerProblems } from '../helpers/openapi-answers';

afterEach(() => {
  const problems = takeAnswerProblems();
  if (problems.length > 0) {
    throw new Error(`Answers the OpenAPI document does not describe:\n- ${problems.join('\n- ')}`);
  }
});
