/**
 * The client package's request and answer types, checked against the OpenAPI document by the
 * type checker (`npm run typecheck`, part of `npm test`): test/openapi/openapi-types.ts is what
 * openapi-typescript generates from docs/openapi.json (test/openapi/sdk-types.test.ts keeps it
 * current), and every line below fails to compile when the SDK and the document part ways.
 * Answers must be exactly the documented shape; requests must fit the documented body.
 */
import type * as sdk from '../../packages/client/src';
import type { components } from '../openapi/openapi-types';

type Schemas = components['schemas'];

/** True when A and B are the same type (members, optionality and all). */
type Exact<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** True when A fits where B is expected. */
type Fits<A, B> = [A] extends [B] ? true : false;
type Assert<T extends true> = T;

type IssueData = Schemas['IssueTokenRequest']['data'];
type DocumentedIssueMember = Exclude<keyof IssueData, 'apiKey' | 'authToken' | 'userProperties'> | keyof IssueData['userProperties'];

export type SdkMatchesOpenApi = [
  // Answers.
  Assert<Exact<sdk.IssuedToken, Schemas['IssuedToken']>>,
  Assert<Exact<sdk.Introspection, Schemas['Introspection']>>,
  Assert<Exact<sdk.UserRevocation, Schemas['RevokedUser']>>,
  Assert<Exact<sdk.OrganizationRevocation, Schemas['RevokedOrganization']>>,
  Assert<Exact<sdk.AccountInfo, Schemas['AccountMe']['account']>>,
  Assert<Exact<sdk.SigningKeyInfo, Schemas['SigningKeySet']>>,
  Assert<Exact<sdk.DirectoryUser, Schemas['User']['user']>>,
  Assert<Exact<sdk.IdentifiedUser, Schemas['IdentifiedUser']>>,
  Assert<Exact<sdk.CreatedAccount, Schemas['CreatedAccount']>>,
  Assert<Exact<sdk.AdminAccount, Schemas['CreatedAccount']['account']>>,
  Assert<Exact<sdk.AddedAuthToken, Schemas['AddedAuthToken']>>,
  Assert<Exact<sdk.AuthTokenInfo, Schemas['AuthTokenList']['authTokens'][number]>>,
  // Requests: the SDK's members are the documented ones, of fitting types.
  Assert<Exact<sdk.Policy, NonNullable<IssueData['policy']>>>,
  Assert<Exact<keyof sdk.GetTokenRequest, DocumentedIssueMember>>,
  Assert<Fits<Pick<sdk.GetTokenRequest, 'userId' | 'policy' | 'expiresIn'>, Omit<IssueData, 'apiKey' | 'authToken' | 'userProperties'>>>,
  Assert<Fits<Pick<sdk.GetTokenRequest, 'organizationId' | 'email' | 'isAdmin'>, IssueData['userProperties']>>,
  Assert<Exact<sdk.PutUserRequest, Schemas['PutUserRequest']['data']>>,
  Assert<Exact<sdk.SessionUser, Schemas['IdentifyRequest']['data']['user']>>,
  // Every code the document says may come back is one the SDK names.
  Assert<Fits<DocumentedCode, sdk.GatewayErrorCode>>,
];

type ErrorSchemaName = Extract<keyof Schemas, `Error${number}`>;
type DocumentedCode = Schemas[ErrorSchemaName]['error']['code'];
