export { isPermitted, isPolicy, policyProblem, isPermissionName, WILDCARD, type Policy } from './policy';
