package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
)

// WithSealKey sets the 32-byte key that seals target credentials at rest.
func WithSealKey(key []byte) Option { return func(s *Store) { s.sealKey = key } }

// seal encrypts credentials with AES-256-GCM; the nonce leads the ciphertext.
func (s *Store) seal(creds map[string]string) ([]byte, error) {
	if len(creds) == 0 {
		return nil, nil
	}
	if len(s.sealKey) != 32 {
		return nil, fmt.Errorf("no sealing key configured: credentials cannot be stored")
	}
	plain, err := json.Marshal(creds)
	if err != nil {
		return nil, err
	}
	gcm, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func (s *Store) unseal(sealed []byte) (map[string]string, error) {
	creds := map[string]string{}
	if len(sealed) == 0 {
		return creds, nil
	}
	if len(s.sealKey) != 32 {
		return nil, fmt.Errorf("no sealing key configured: credentials cannot be read")
	}
	gcm, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, fmt.Errorf("sealed credentials are corrupt")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("unseal credentials (wrong service key?): %w", err)
	}
	if err := json.Unmarshal(plain, &creds); err != nil {
		return nil, fmt.Errorf("unseal credentials: %w", err)
	}
	return creds, nil
}

// aead is AES-256-GCM with the sealing key.
func (s *Store) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.sealKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
