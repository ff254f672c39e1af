export {
  createAccount,
  accountName,
  requireAccountById,
  addAuthToken,
  listAuthTokens,
  deleteAuthToken,
  authenticateAccount,
  checkCredentials,
  type AuthenticatedAccount,
  type CreatedAccount,
  type IssuedAuthToken,
} from './accounts';
export { putUser, getUser, deleteUser, checkUserAgainstDirectory, type UserView } from './users';
export { identifierProblem, isIdentifier, MAX_IDENTIFIER_LENGTH } from './identifiers';
export { CREDENTIAL_PATTERN, hashSecret } from './secrets';
