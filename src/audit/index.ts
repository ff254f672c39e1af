export {
  AuditTrail,
  AUDIT_EVENT_TYPES,
  type AuditActor,
  type AuditEvent,
  type AuditEventType,
  type AuditInput,
  type AuditTrailOptions,
} from './audit-trail';
export * as auditEvents from './events';
