/**
 * Indonesian NIK (Nomor Induk Kependudukan), 16 digits:
 * PP RR DD (province, regency, district) · DDMMYY birth date, day + 40 for women · SSSS serial.
 */

// Province codes in use (Kemendagri), including the Papua provinces created in 2022.
const PROVINCES = new Set([
  11, 12, 13, 14, 15, 16, 17, 18, 19, 21,
  31, 32, 33, 34, 35, 36,
  51, 52, 53,
  61, 62, 63, 64, 65,
  71, 72, 73, 74, 75, 76,
  81, 82,
  91, 92, 93, 94, 95, 96
])

export type NikCheck =
  | { valid: true, sex: 'male' | 'female', birthDate: { day: number, month: number, yearOfCentury: number } }
  | { valid: false, reason: string }

function daysInMonth (month: number, yearOfCentury: number): number {
  if (month === 2) {
    // The century is not in the NIK; accept 29 February when either 19yy or 20yy is a leap year
    // (for yy in 00..99 that is exactly yy % 4 === 0, thanks to 2000).
    return yearOfCentury % 4 === 0 ? 29 : 28
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** Checks the structure of a NIK. Reasons never repeat the NIK itself (it is personal data). */
export function checkNik (nik: string): NikCheck {
  if (!/^\d{16}$/.test(nik)) return { valid: false, reason: 'NIK must be exactly 16 digits' }
  const province = Number(nik.slice(0, 2))
  if (!PROVINCES.has(province)) return { valid: false, reason: 'NIK has an unknown province code' }
  if (nik.slice(2, 4) === '00' || nik.slice(4, 6) === '00') return { valid: false, reason: 'NIK has no regency or district code' }
  let day = Number(nik.slice(6, 8))
  const month = Number(nik.slice(8, 10))
  const yearOfCentury = Number(nik.slice(10, 12))
  let sex: 'male' | 'female' = 'male'
  if (day > 40) {
    sex = 'female'
    day -= 40
  }
  if (month < 1 || month > 12) return { valid: false, reason: 'NIK has an invalid birth month' }
  if (day < 1 || day > daysInMonth(month, yearOfCentury)) return { valid: false, reason: 'NIK has an invalid birth day' }
  if (nik.slice(12) === '0000') return { valid: false, reason: 'NIK has serial number 0000' }
  return { valid: true, sex, birthDate: { day, month, yearOfCentury } }
}
