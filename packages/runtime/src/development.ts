/**
 * The JWT secret of development mode, when JWT_SECRET is unset: several development intakes and the
 * benchmark share tokens with it. Public (it is in this repository), so production refuses it.
 */
export const DEVELOPMENT_JWT_SECRET = 'request-out-development-secret-not-for-production'
